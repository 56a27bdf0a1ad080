import { describe, expect, it } from 'vitest';
import type { Outbox } from '../../src/ports/outbox.js';

let counter = 0;
/** A sink name no other test has used. */
const fresh = (): string => `sink-${process.pid}-${Date.now()}-${counter++}`;
const T = 1_800_000_000_000;

/** What every Outbox must do: the same suite runs against the in-memory outbox and Redis. */
export function outboxContract(name: string, create: () => Outbox): void {
  describe(`Outbox contract: ${name}`, () => {
    it('enqueues once per id, claims due items oldest first, and hides a claimed item', async () => {
      const box = create();
      const sink = fresh();
      expect(await box.enqueue(sink, [{ id: 'a', payload: '{"n":1}' }], T)).toBe(1);
      expect(
        await box.enqueue(
          sink,
          [
            { id: 'a', payload: 'again' },
            { id: 'b', payload: '{"n":2}' },
          ],
          T + 1,
        ),
      ).toBe(1);
      expect(await box.depth(sink)).toBe(2);
      const claimed = await box.claim(sink, T + 10, 10, 1_000);
      expect(claimed).toEqual([
        { id: 'a', payload: '{"n":1}', attempts: 1, firstAt: T },
        { id: 'b', payload: '{"n":2}', attempts: 1, firstAt: T + 1 },
      ]);
      // Hidden while claimed; due again once the visibility timeout passed.
      expect(await box.claim(sink, T + 500, 10, 1_000)).toEqual([]);
      expect((await box.claim(sink, T + 1_010, 1, 1_000)).map((i) => [i.id, i.attempts])).toEqual([['a', 2]]);
      await box.close();
    });

    it('a retried item keeps its error and comes back when due; an acked one never comes back', async () => {
      const box = create();
      const sink = fresh();
      await box.enqueue(
        sink,
        [
          { id: 'x', payload: 'p' },
          { id: 'y', payload: 'q' },
        ],
        T,
      );
      await box.claim(sink, T, 10, 60_000);
      await box.retry(sink, 'x', T + 5_000, 'HTTP 503: busy');
      await box.ack(sink, 'y', T + 1);
      expect(await box.claim(sink, T + 4_999, 10, 60_000)).toEqual([]);
      expect(await box.claim(sink, T + 5_000, 10, 60_000)).toEqual([
        { id: 'x', payload: 'p', attempts: 2, firstAt: T, lastError: 'HTTP 503: busy' },
      ]);
      // A replay enqueues y again: it was delivered, so it is not queued twice.
      expect(await box.enqueue(sink, [{ id: 'y', payload: 'q' }], T + 10)).toBe(0);
      expect(await box.depth(sink)).toBe(1);
      await box.close();
    });

    it('items enqueued in the same millisecond are claimed in their order', async () => {
      const box = create();
      const sink = fresh();
      const ids = ['zz', 'aa', 'mm', 'bb'];
      await box.enqueue(
        sink,
        ids.map((id) => ({ id, payload: id })),
        T,
      );
      expect((await box.claim(sink, T, 10, 1_000)).map((i) => i.id)).toEqual(ids);
      await box.close();
    });

    it('sinks are separate queues', async () => {
      const box = create();
      const a = fresh();
      const b = fresh();
      await box.enqueue(a, [{ id: 'same', payload: '1' }], T);
      await box.enqueue(b, [{ id: 'same', payload: '2' }], T);
      await box.ack(a, 'same', T);
      expect((await box.claim(b, T, 10, 1_000)).map((i) => i.payload)).toEqual(['2']);
      await box.close();
    });
  });
}
