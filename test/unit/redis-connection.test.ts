import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { connectRedis } from '../../src/transport/redis/connection.js';
import { freePort } from '../support/ports.js';

/** While Redis is away, ioredis errors many times a second: told once, never "Unhandled error event". */
describe('Redis connection', () => {
  it('tells a connection error once per 30 s, in the log, and nothing on stderr', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const port = await freePort(); // nothing listens there
    const redis = connectRedis(
      { url: `redis://127.0.0.1:${port}`, logger },
      { retryStrategy: () => 20, maxRetriesPerRequest: 1, lazyConnect: false },
    );
    // Many failed reconnects (every 20 ms), with no listener but the connection's own.
    await new Promise((resolve) => setTimeout(resolve, 600));
    redis.disconnect();
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();
    const told = lines.filter((l) => l.includes('Redis connection error'));
    expect(told).toHaveLength(1);
    expect(told[0]).toContain('ECONNREFUSED');
  });
});
