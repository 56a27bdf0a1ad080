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

    it('holds an item enqueued for later until it is due', async () => {
      const box = create();
      const sink = fresh();
      expect(await box.enqueueAt(sink, [{ id: 'g:1', payload: 'x' }], T, T + 5_000)).toBe(1);
      expect(await box.enqueueAt(sink, [{ id: 'g:1', payload: 'y' }], T, T + 9_000)).toBe(0);
      expect(await box.claim(sink, T + 4_999, 10, 1_000)).toEqual([]);
      expect(await box.claim(sink, T + 5_000, 10, 1_000)).toEqual([
        { id: 'g:1', payload: 'x', attempts: 1, firstAt: T },
      ]);
      await box.close();
    });

    it("keeps groups' state with the offset it covers, never replaced by an earlier offset", async () => {
      const box = create();
      const sink = fresh();
      expect(await box.loadGroups(sink)).toEqual({ offset: undefined, groups: new Map() });
      expect(
        await box.saveGroups(
          sink,
          '10',
          new Map([
            ['rule=a', '{"v":1}'],
            ['rule=b', '{"v":1}'],
          ]),
        ),
      ).toBe(true);
      expect(await box.saveGroups(sink, '12', new Map([['rule=a', '{"v":2}']]))).toBe(true);
      // A notifier that lost vigil.alerts, still saving what it had read up to offset 11.
      expect(await box.saveGroups(sink, '11', new Map([['rule=a', '{"v":9}']]))).toBe(false);
      expect(await box.loadGroups(sink)).toEqual({
        offset: '12',
        groups: new Map([
          ['rule=a', '{"v":2}'],
          ['rule=b', '{"v":1}'],
        ]),
      });
      expect(await box.group(sink, 'rule=a')).toEqual({ state: '{"v":2}', sent: 0 });
      await box.sentGroup(sink, 'rule=a', 2);
      await box.sentGroup(sink, 'rule=a', 1); // a slower node's older send does not lower it
      expect(await box.group(sink, 'rule=a')).toEqual({ state: '{"v":2}', sent: 2 });
      expect(await box.group(sink, 'rule=c')).toEqual({ state: undefined, sent: 0 });
      await box.close();
    });

    it('keeps the highest-ranked state of each standing alert, and forgets resolved ones in time', async () => {
      const box = create();
      const sink = fresh();
      const firing = { alert: '{"s":"firing"}', firing: true };
      const resolved = { alert: '{"s":"resolved"}', firing: false };
      const start = T - 60_000;
      expect(await box.putStanding(sink, 'hot\u0000a', [start, 0, T], firing, T)).toBe(true);
      expect(await box.putStanding(sink, 'hot\u0000a', [start, 0, T], firing, T)).toBe(true); // a repeat
      expect(await box.putStanding(sink, 'hot\u0000b', [start, 0, T], firing, T)).toBe(true);
      expect(await box.putStanding(sink, 'hot\u0000a', [start, 1, T + 5_000], resolved, T + 5)).toBe(true);
      // A firing of that episode retried late, and an earlier report: both stale.
      expect(await box.putStanding(sink, 'hot\u0000a', [start, 0, T + 9_000], firing, T + 9)).toBe(false);
      expect(await box.putStanding(sink, 'hot\u0000b', [start, 0, T - 1], firing, T + 9)).toBe(false);
      expect(await box.standing(sink, 0)).toEqual(
        new Map([
          ['hot\u0000a', resolved],
          ['hot\u0000b', firing],
        ]),
      );
      // A later episode fires again; ranks of 13-digit epochs compare exactly.
      expect(await box.putStanding(sink, 'hot\u0000a', [start + 1, 0, T + 1], firing, T + 10)).toBe(true);
      expect(await box.putStanding(sink, 'hot\u0000b', [start, 1, T + 1], resolved, T + 10)).toBe(true);
      // Resolved entries recorded before the horizon are forgotten; firing ones never are.
      expect(await box.standing(sink, T + 11)).toEqual(new Map([['hot\u0000a', firing]]));
      await box.close();
    });
  });
}
