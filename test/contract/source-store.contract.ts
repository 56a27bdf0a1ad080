import { describe, expect, it } from 'vitest';
import { LeaseLostError, type SourceStore } from '../../src/ports/source-store.js';

let counter = 0;
/** A source id no other test has used. */
const fresh = (): string => `src-${process.pid}-${Date.now()}-${counter++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What every SourceStore must do: the same suite runs against the in-memory store (unit) and the
 * Redis store (integration).
 */
export function sourceStoreContract(name: string, create: () => SourceStore): void {
  describe(`SourceStore contract: ${name}`, () => {
    it('one holder at a time; the holder renews and saves, and its checkpoint reads back', async () => {
      const store = create();
      const source = fresh();
      expect(await store.load(source)).toBeUndefined();
      const lease = await store.acquire(source, 'node-1', 5_000);
      expect(lease?.token.startsWith('node-1/')).toBe(true);
      expect(await store.acquire(source, 'node-2', 5_000)).toBeUndefined();
      expect(await store.owner(source)).toBe('node-1');
      if (lease === undefined) throw new Error('no lease');
      expect(await store.renew(lease, 5_000)).toBe(true);
      await store.save(lease, Buffer.from('{"v":1}'));
      expect((await store.load(source))?.toString()).toBe('{"v":1}');
      await store.close();
    });

    it('a lapsed lease can be taken; the old holder can then neither renew nor save', async () => {
      const store = create();
      const source = fresh();
      const old = await store.acquire(source, 'node-1', 150);
      if (old === undefined) throw new Error('no lease');
      await store.save(old, Buffer.from('old'));
      await sleep(300);
      expect(await store.owner(source)).toBeUndefined();
      const taken = await store.acquire(source, 'node-2', 5_000);
      expect(taken).toBeDefined();
      expect(await store.renew(old, 5_000)).toBe(false);
      await expect(store.save(old, Buffer.from('zombie'))).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.load(source))?.toString()).toBe('old');
      expect(await store.owner(source)).toBe('node-2');
      await store.close();
    });

    it('release lets another node take the source at once; a stale release changes nothing', async () => {
      const store = create();
      const source = fresh();
      const first = await store.acquire(source, 'node-1', 5_000);
      if (first === undefined) throw new Error('no lease');
      await store.release(first);
      const second = await store.acquire(source, 'node-2', 5_000);
      expect(second).toBeDefined();
      await store.release(first);
      expect(await store.owner(source)).toBe('node-2');
      await store.close();
    });
  });
}
