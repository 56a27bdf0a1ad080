import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restoreLegacyDedupe, upgradeDedupePairs } from '../../src/core/checkpoint-legacy.js';
import { Deduplicator, fingerprintHash } from '../../src/core/dedupe.js';
import type { Reading } from '../../src/core/reading.js';
import { roundTrip } from '../support/pipeline.js';

const reading = (ts: number, x: number, seq?: number): Reading =>
  seq === undefined ? { sensorId: 's', ts, values: { x } } : { sensorId: 's', ts, values: { x }, seq };

describe('Deduplicator', () => {
  it('drops a reading sent again: the same time and values, or the same time and seq', () => {
    const d = new Deduplicator(60_000);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 2 }, seq: 7 })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { b: 2, a: 1 } })).toBe(true); // key order
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 5 }, seq: 7 })).toBe(true); // re-encoded, same seq
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 3 } })).toBe(false); // another metric at 1 ms
    expect(d.isDuplicate({ sensorId: 's', ts: 2, values: { a: 1, b: 2 }, seq: 8 })).toBe(false);
  });

  it('takes a device that counts from 0 again (a reboot): the same seq at another time is a new reading', () => {
    const d = new Deduplicator(300_000);
    const boot = (t0: number): boolean[] =>
      Array.from({ length: 20 }, (_, seq) => d.isDuplicate(reading(t0 + seq * 1_000, 20 + seq, seq)));
    expect(boot(0)).toEqual(Array(20).fill(false));
    expect(boot(30 * 60_000)).toEqual(Array(20).fill(false)); // 30 minutes later
    expect(boot(30 * 60_000 + 25_000)).toEqual(Array(20).fill(false)); // and again 5 s after the last
    expect(boot(0 + 30 * 60_000)).toEqual(Array(20).fill(true)); // the second run, sent again
  });

  it('forgets what is older than the horizon, so memory stays bounded', () => {
    const d = new Deduplicator(1_000);
    for (let i = 0; i < 10_000; i++) d.isDuplicate({ sensorId: 's', ts: i * 10, values: { x: i } });
    expect(d.size).toBeLessThanOrEqual(101);
    expect(d.bytes).toBeLessThanOrEqual(256 * 16);
    expect(d.isDuplicate({ sensorId: 's', ts: 99_990, values: { x: 9_999 } })).toBe(true);
  });

  it('is off with a zero horizon', () => {
    const d = new Deduplicator(0);
    expect(d.isDuplicate(reading(1, 1))).toBe(false);
    expect(d.isDuplicate(reading(1, 1))).toBe(false);
  });

  it('restores from a snapshot', () => {
    const d = new Deduplicator(60_000);
    d.isDuplicate(reading(5, 1, 1));
    const back = restoreLegacyDedupe(new Deduplicator(60_000), roundTrip(d.snapshot()));
    expect(back.isDuplicate(reading(5, 2, 1))).toBe(true);
    expect(back.isDuplicate(reading(6, 2, 1))).toBe(false);
  });

  it('reads the key/ts pairs of older checkpoints as entries matching what they matched', () => {
    // Version 3 kept a fingerprint of (ts, values) and -(seq + 1), each with the time of its reading.
    const old = reading(5_000, 21.5, 42);
    const pairs = [fingerprintHash(old), 5_000, -(42 + 1), 5_000];
    const d = new Deduplicator(60_000).restoreSegments(
      { max: 5_000, seg: 3_750, segs: [1] },
      new Map([[1, upgradeDedupePairs(pairs)]]),
    );
    expect(d.isDuplicate({ ...old, seq: 7 })).toBe(true); // same time and values
    expect(d.isDuplicate(reading(5_000, 99, 42))).toBe(true); // same time and seq
    expect(d.isDuplicate(reading(9_000, 21.5, 42))).toBe(false); // seq 42 again, later: a reboot
    expect(d.changes().write.size).toBeGreaterThan(0); // rewritten whole in today's form
  });
});

/**
 * The definition, read directly: a reading is a repeat when a reading taken before it has the same
 * time and the same values or seq, and it lies within the horizon behind the newest reading taken.
 */
function oracle(readings: readonly Reading[], horizon: number): boolean[] {
  const taken: Reading[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  const sameValues = (a: Reading, b: Reading): boolean => {
    const ka = Object.keys(a.values).sort();
    const kb = Object.keys(b.values).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a.values[k] === b.values[k]);
  };
  return readings.map((r) => {
    if (horizon <= 0 || r.ts < newest - horizon) return false;
    const repeat = taken.some(
      (t) => t.ts === r.ts && (sameValues(t, r) || (r.seq !== undefined && t.seq === r.seq)),
    );
    if (!repeat) {
      taken.push(r);
      newest = Math.max(newest, r.ts);
    }
    return repeat;
  });
}

/** A device's life: runs of readings (seq from 0 after each reboot), gaps, resends, jitter. */
const device = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 0, max: 2_000_000 }), // up to ~33 minutes quiet before the run
      count: fc.integer({ min: 1, max: 30 }),
      every: fc.integer({ min: 1, max: 5_000 }),
      resend: fc.array(fc.integer({ min: 0, max: 29 }), { maxLength: 6 }),
      jitter: fc.array(fc.integer({ min: -3_000, max: 3_000 }), { maxLength: 5 }),
      reencode: fc.boolean(),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((runs) => {
    const out: Reading[] = [];
    let t = 1_700_000_000_000;
    for (const run of runs) {
      t += run.gap;
      const sent: Reading[] = [];
      for (let seq = 0; seq < run.count; seq++) {
        const ts = t + seq * run.every + (run.jitter[seq % Math.max(1, run.jitter.length)] ?? 0);
        const r: Reading = { sensorId: 's', ts, values: { v: (seq * 7) % 5 }, seq };
        sent.push(r);
        out.push(r);
      }
      for (const i of run.resend) {
        const r = sent[i % sent.length];
        if (r === undefined) continue;
        // Sent again as it was, or re-encoded (same seq and time, values written otherwise).
        out.push(run.reencode ? { ...r, values: { v: (r.values['v'] ?? 0) + 0.5 } } : { ...r });
      }
      t += run.count * run.every;
    }
    return out;
  });

describe('Deduplicator against its definition', () => {
  it('drops exactly the repeats, across reboots, gaps, jitter and resends', () => {
    fc.assert(
      fc.property(device, fc.constantFrom(0, 5_000, 60_000, 300_000), (readings, horizon) => {
        const d = new Deduplicator(horizon);
        expect(readings.map((r) => d.isDuplicate(r))).toEqual(oracle(readings, horizon));
      }),
      { numRuns: 300 },
    );
  });

  it('decides the same after a checkpoint and restore at any point', () => {
    fc.assert(
      fc.property(device, fc.nat(), (readings, at) => {
        const cut = at % (readings.length + 1);
        const whole = new Deduplicator(300_000);
        const expected = readings.map((r) => whole.isDuplicate(r));
        const first = new Deduplicator(300_000);
        const before = readings.slice(0, cut).map((r) => first.isDuplicate(r));
        // What the store holds after two incremental checkpoints: segments written, then appended to.
        const stored = new Map<number, number[]>();
        const land = (): ReturnType<Deduplicator['changes']>['index'] => {
          const c = first.changes();
          for (const seg of c.removed) stored.delete(seg);
          for (const [seg, e] of c.write) stored.set(seg, [...e]);
          for (const [seg, e] of c.append) stored.get(seg)?.push(...e);
          return c.index;
        };
        land();
        const index = land();
        const resumed = new Deduplicator(300_000).restoreSegments(index, stored);
        const after = readings.slice(cut).map((r) => resumed.isDuplicate(r));
        expect([...before, ...after]).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Deduplicator segments (incremental checkpoints)', () => {
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
    expect(second.append.get(4)?.length).toBe(3); // one entry: time, values hash, seq code
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
  it('is stable, ignores field order, and separates near misses', () => {
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
