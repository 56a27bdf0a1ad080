import { describe, expect, it } from 'vitest';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import {
  acceptanceInput,
  compare,
  REFERENCE_CONFIG,
  type EngineOutput,
  type InputRecord,
} from '../support/acceptance.js';
import { embeddedConfig, gather, sensorsOf, settled } from '../support/embedded.js';
import { reference } from '../support/reference.js';
import { Random } from '../../src/sim/random.js';

/**
 * Offsets are not contiguous in Kafka: every transaction ends with a marker that takes an offset, and
 * an aborted transaction's records are skipped by read-committed consumers. The engine must count
 * every committed reading once, past its second transaction and its second restart.
 */
describe('engine over a log with gaps in its offsets', () => {
  const input = acceptanceInput(80, 8_000, 23);
  const expected = reference(input, REFERENCE_CONFIG);

  it(
    'transactions (committed and aborted) and restarts: exactly the reference results',
    { timeout: 60_000 },
    async () => {
      const config = embeddedConfig();
      const log = new MemoryRecordLog();
      const store = new MemoryStateStore();
      const topic = config.kafka.topics.readings;
      const random = new Random(7);
      const write = (records: readonly InputRecord[], outcome: 'commit' | 'abort'): void => {
        log.appendTransaction(
          [{ topic, messages: records.map((r) => ({ key: r.key, value: r.value })) }],
          outcome,
        );
      };
      let node = await startEmbedded(config, silentLogger, log, store);
      let at = 0;
      let restarts = 0;
      let transactions = 0;
      while (at < input.length) {
        const size = 1 + Math.floor(random.next() * 400);
        // An aborted transaction holding copies of readings: none of them may count.
        if (random.next() < 0.3) write(input.slice(at, at + 50), 'abort');
        write(input.slice(at, at + size), 'commit');
        transactions++;
        at += size;
        // Let the engine catch up now and then, so that a read can begin with a gap (an aborted
        // transaction's records or a marker) as well as end with one.
        if (random.next() < 0.4) await settled(log, config);
        if (transactions % 8 === 0) {
          await settled(log, config);
          await node.stop();
          node = await startEmbedded(config, silentLogger, log, store);
          restarts++;
        }
      }
      await settled(log, config);
      await node.stop();
      expect(transactions).toBeGreaterThan(20);
      expect(restarts).toBeGreaterThanOrEqual(2);
      const out = byVisibleRank(log, topic, await gather(log, config, store, sensorsOf(input)));
      expect(compare(out, expected)).toEqual([]);
    },
  );
});

/**
 * Late records and dead letters name their source offset; the reference numbers a partition's records
 * 0, 1, 2… as a log without gaps would. Each offset is mapped to its record's rank among the visible ones.
 */
function byVisibleRank(log: MemoryRecordLog, topic: string, out: EngineOutput): EngineOutput {
  const rank = new Map<string, string>();
  log.partitions(topic).forEach((records, p) => {
    records.forEach((r, i) => rank.set(`${p}:${r.offset}`, `${p}:${i}`));
  });
  const map = (ids: readonly string[]): string[] => ids.map((id) => rank.get(id) ?? `unmapped ${id}`);
  return { ...out, late: map(out.late), dlq: map(out.dlq) };
}
