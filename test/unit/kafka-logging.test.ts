import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { pinoLogCreator } from '../../src/transport/kafka/client.js';

/** kafkajs' routine errors (coordinator loading, rebalancing) are not errors on an operator's console. */
describe('kafkajs logging', () => {
  it('logs what kafkajs retries by itself at debug, and real errors at error', () => {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    const log = pinoLogCreator(pino({ level: 'trace' }, sink))(logLevel.DEBUG);
    const entry = (level: logLevel, message: string, error?: string) => ({
      namespace: 'Connection',
      level,
      label: 'ERROR',
      log: { timestamp: '', message, ...(error === undefined ? {} : { error }) },
    });
    log(
      entry(
        logLevel.ERROR,
        'Response GroupCoordinator(key: 10, version: 2)',
        "The coordinator is loading and hence can't process requests",
      ),
    );
    log(entry(logLevel.ERROR, '[Runner] The group is rebalancing, re-joining', 'The group is rebalancing'));
    log(entry(logLevel.ERROR, 'Response Produce', 'Not authorized to access topics'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [20, 'Response GroupCoordinator(key: 10, version: 2)'],
      [20, '[Runner] The group is rebalancing, re-joining'],
      [50, 'Response Produce'],
    ]);
  });
});
