import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeBatch, positionAfter } from '../../src/core/log-position.js';

/**
 * A partition as Kafka lays it out: each offset a record, or a hole a read-committed consumer never
 * sees (a transaction marker, an aborted transaction's record, a compacted record).
 */
const partitionLog = fc
  .array(fc.boolean(), { minLength: 0, maxLength: 200 })
  .map((visible) => visible.flatMap((v, offset) => (v ? [offset] : [])));

/** What a consumer delivers: batches of the visible records from a position, cut anywhere. */
function batchesFrom(records: readonly number[], from: number, cuts: readonly number[]): number[][] {
  const rest = records.filter((o) => o >= from);
  const out: number[][] = [];
  let i = 0;
  for (const cut of cuts) {
    if (i >= rest.length) break;
    const n = 1 + (cut % 7);
    out.push(rest.slice(i, i + n));
    i += n;
  }
  if (i < rest.length) out.push(rest.slice(i));
  return out;
}

describe('placeBatch: a reader over a log with gaps', () => {
  it('processes every visible record exactly once, in order, whatever the gaps and the batch cuts', () => {
    fc.assert(
      fc.property(partitionLog, fc.array(fc.nat(50)), (records, cuts) => {
        let next: bigint | undefined;
        const seen: number[] = [];
        for (const batch of batchesFrom(records, 0, cuts)) {
          const placed = placeBatch(next, batch.map(String), false);
          if (!placed.use) continue;
          const taken = batch.slice(placed.from);
          seen.push(...taken);
          next = positionAfter(String(taken[taken.length - 1]), undefined);
        }
        expect(seen).toEqual(records);
      }),
    );
  });

  it('after a restart at a checkpoint, a replayed overlap is skipped and nothing is missed', () => {
    fc.assert(
      fc.property(partitionLog, fc.nat(200), fc.nat(200), fc.array(fc.nat(50)), (records, cp, from, cuts) => {
        // The checkpoint says `cp`; the consumer starts anywhere at or before it (Kafka's commit lags).
        const checkpoint = BigInt(cp);
        const start = Math.min(from, cp);
        const seen: number[] = [];
        let next: bigint | undefined = checkpoint;
        for (const batch of batchesFrom(records, start, cuts)) {
          const placed = placeBatch(next, batch.map(String), false);
          if (!placed.use) continue;
          const taken = batch.slice(placed.from);
          seen.push(...taken);
          next = positionAfter(String(taken[taken.length - 1]), undefined);
        }
        expect(seen).toEqual(records.filter((o) => o >= cp));
      }),
    );
  });

  it('drops a batch fetched before its own seek unless it covers the position', () => {
    // Position 10 after a seek; the batch in hand was fetched from Kafka's committed offset.
    expect(placeBatch(10n, ['12', '13'], true)).toEqual({ use: false, why: 'fetched before the seek' });
    expect(placeBatch(10n, ['8', '9', '11'], true)).toEqual({ use: true, from: 2 });
    expect(placeBatch(10n, ['8', '9'], true)).toEqual({ use: false, why: 'processed' });
    // Not fetched before a seek: the same first offset past the position is a gap (a marker).
    expect(placeBatch(10n, ['12', '13'], false)).toEqual({ use: true, from: 0 });
  });

  it('moves past control records at the end of a batch', () => {
    expect(positionAfter('41', '43')).toBe(43n);
    expect(positionAfter('41', undefined)).toBe(42n);
    expect(positionAfter('41', '40')).toBe(42n);
  });
});
