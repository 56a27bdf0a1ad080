import { restoreLegacyDedupe } from '../../src/core/checkpoint-legacy.js';
import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import { Deduplicator } from '../../src/core/dedupe.js';

describe('Deduplicator', () => {
  it('drops the same sequence number and the same ts + values (in any key order)', () => {
    const d = new Deduplicator(60_000);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 2 }, seq: 7 })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 99, values: { a: 5 }, seq: 7 })).toBe(true);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { b: 2, a: 1 } })).toBe(true);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 3 } })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 2, values: { a: 1, b: 2 }, seq: 8 })).toBe(false);
  });

  it('forgets what is older than the horizon, so memory stays bounded', () => {
    const d = new Deduplicator(1_000);
    for (let i = 0; i < 10_000; i++) d.isDuplicate({ sensorId: 's', ts: i * 10, values: { x: i } });
    expect(d.size).toBeLessThan(300);
    expect(d.isDuplicate({ sensorId: 's', ts: 99_990, values: { x: 9_999 } })).toBe(true);
  });

  it('is off with a zero horizon', () => {
    const d = new Deduplicator(0);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { x: 1 } })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { x: 1 } })).toBe(false);
  });

  it('restores from a snapshot', () => {
    const d = new Deduplicator(60_000);
    d.isDuplicate({ sensorId: 's', ts: 5, values: { x: 1 }, seq: 1 });
    const back = restoreLegacyDedupe(new Deduplicator(60_000), roundTrip(d.snapshot()));
    expect(back.isDuplicate({ sensorId: 's', ts: 6, values: { x: 2 }, seq: 1 })).toBe(true);
  });
});

describe('Deduplicator segments (incremental checkpoints)', () => {
  const reading = (ts: number, x: number) => ({ sensorId: 's', ts, values: { x } });

  it('appends what was added to stored segments, writes new ones, removes those past the horizon', () => {
    const d = new Deduplicator(16_000); // segments of 1 s
    for (let ts = 0; ts < 5_000; ts += 500) d.isDuplicate(reading(ts, ts));
    const first = d.changes();
    expect([...first.write.keys()]).toEqual([0, 1, 2, 3, 4]);
    expect(first.index.segs).toEqual([0, 1, 2, 3, 4]);
    d.isDuplicate(reading(4_800, 1));
    d.isDuplicate(reading(5_100, 2));
    const second = d.changes();
    expect([...second.append.keys()]).toEqual([4]);
    expect(second.append.get(4)?.length).toBe(2); // one key, one time: only the new entry
    expect([...second.write.keys()]).toEqual([5]);
    expect(second.removed).toEqual([]);
    d.isDuplicate(reading(18_500, 2)); // cutoff 2 500: segments 0 and 1 are wholly past it
    const third = d.changes();
    expect(third.removed).toEqual([0, 1]);
    expect(third.index.segs).toEqual([2, 3, 4, 5, 18]);
  });

  it('restores from its segments, and replaces them all when the horizon (segment length) changed', () => {
    const d = new Deduplicator(16_000);
    for (let ts = 0; ts < 3_000; ts += 500) d.isDuplicate(reading(ts, ts));
    const c = d.changes();
    expect(c.append.size).toBe(0);
    const same = new Deduplicator(16_000).restoreSegments(c.index, c.write);
    expect(same.isDuplicate(reading(500, 500))).toBe(true);
    expect(same.changes().write.size).toBe(0);
    const longer = new Deduplicator(64_000).restoreSegments(c.index, c.write); // segments of 4 s
    expect(longer.isDuplicate(reading(2_500, 2_500))).toBe(true);
    const rewritten = longer.changes();
    expect([...rewritten.write.keys()]).toEqual([0]);
    expect(rewritten.removed).toEqual([1, 2]); // old names not reused by the new cut
  });
});

describe('fingerprintHash', () => {
  it('is stable, ignores field order, and separates near misses', async () => {
    const { fingerprintHash } = await import('../../src/core/dedupe.js');
    const h = fingerprintHash({ sensorId: 's', ts: 1, values: { a: 1, b: 2 } });
    expect(fingerprintHash({ sensorId: 's', ts: 1, values: { b: 2, a: 1 } })).toBe(h);
    expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
    const near = new Set<number>();
    for (let i = 0; i < 20_000; i++)
      near.add(
        fingerprintHash({
          sensorId: 's',
          ts: 1_795_000_000_000 + (i >> 3),
          values: { t: 20 + (i % 8) / 100 },
        }),
      );
    expect(near.size).toBe(20_000);
  });
});
