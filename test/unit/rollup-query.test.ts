import { describe, expect, it } from 'vitest';
import {
  accumulate,
  AGGREGATES,
  finish,
  newAccumulator,
  snapshotAccumulator,
} from '../../src/core/aggregate.js';
import { aggregateRollups, coveredInterval, tidy } from '../../src/core/rollup-query.js';

function minute(minuteStart: number, values: number[]) {
  const acc = newAccumulator(true);
  values.forEach((v, i) => {
    accumulate(acc, v, minuteStart + i);
  });
  return { sensorId: 's', metric: 'm', minute: minuteStart, acc: snapshotAccumulator(acc) };
}

describe('rollup queries', () => {
  it('merge minutes into the same aggregates as the readings taken together', () => {
    const a = [1, 5, 3];
    const b = [10, -2];
    const all = newAccumulator(true);
    [...a, ...b].forEach((v, i) => {
      accumulate(all, v, i < 3 ? i : 60_000 + i - 3);
    });
    const merged = aggregateRollups([minute(60_000, b), minute(0, a)], [...AGGREGATES], 120_000);
    const direct = finish(all, [...AGGREGATES], 120_000);
    for (const k of AGGREGATES) expect(merged[k], k).toBeCloseTo(direct[k] as number, 12);
    expect(merged.count).toBe(5);
    expect(merged.first).toBe(1);
    expect(merged.last).toBe(-2);
  });

  it('covers whole minutes: from rounds down, to up, each said; minutes not closed at now are said too', () => {
    const covered = coveredInterval(90_000, 200_000, 1_000_000);
    expect([covered.from, covered.to]).toEqual([60_000, 240_000]);
    expect(covered.notes).toEqual([
      'from 1970-01-01T00:01:30.000Z is inside a minute: answered from 1970-01-01T00:01:00.000Z (the rollups hold whole minutes)',
      'to 1970-01-01T00:03:20.000Z is inside a minute: answered up to 1970-01-01T00:04:00.000Z (the rollups hold whole minutes)',
    ]);
    expect(coveredInterval(60_000, 180_000, 1_000_000).notes).toEqual([]);
    expect(coveredInterval(60_000, 180_000, 150_000).notes).toEqual([
      'the minutes from 1970-01-01T00:02:00.000Z on are not closed yet: their readings are not counted',
    ]);
  });

  it('tidies a result to 15 significant digits, and no data to null', () => {
    expect(tidy(55.099999999999994)).toBe(55.1);
    expect(tidy(0.1 + 0.2)).toBe(0.3);
    expect(tidy(1 / 3)).toBe(0.333333333333333);
    expect(tidy(Number.NaN)).toBeNull();
    expect(tidy(undefined)).toBeNull();
  });

  it('answers count 0 and NaN elsewhere for no data', () => {
    const r = aggregateRollups([], ['count', 'mean'], 60_000);
    expect(r.count).toBe(0);
    expect(r.mean).toBeNaN();
  });
});
