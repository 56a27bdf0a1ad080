import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/obs/logger.js';
import { StartedParts, startParts } from '../../src/node/parts.js';

describe('StartedParts', () => {
  it('stops what a failed start-up had started, last first, and throws its error', async () => {
    const stopped: string[] = [];
    const failure = new Error('grpc cannot bind');
    await expect(
      startParts(silentLogger, async (parts) => {
        parts.add('store', 'store', (p) => Promise.resolve(void stopped.push(p)));
        parts.add('engine', 'engine', (p) => Promise.resolve(void stopped.push(p)));
        await Promise.resolve();
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(stopped).toEqual(['engine', 'store']);
  });

  it('stops each part once, also after one was stopped early (a drain), and goes on past a failing stop', async () => {
    const stopped: string[] = [];
    const parts = new StartedParts(silentLogger);
    parts.add('a', 'a', (p) => Promise.resolve(void stopped.push(p)));
    parts.add('b', 'b', () => Promise.reject(new Error('b will not stop')));
    parts.add('c', 'c', (p) => Promise.resolve(void stopped.push(p)));
    await parts.stop('c');
    await parts.stopAll();
    await parts.stopAll();
    expect(stopped).toEqual(['c', 'a']);
  });
});
