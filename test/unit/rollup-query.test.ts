import { describe, expect, it } from 'vitest';
import {
  accumulate,
  AGGREGATES,
  finish,
  newAccumulator,
  snapshotAccumulator,
} from '../../src/core/aggregate.js';
import { aggregateRollups, minuteRange } from '../../src/core/rollup-query.js';

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

  it('covers whole minutes: from rounds down to its minute', () => {
    expect(minuteRange(90_000, 200_000)).toEqual({ fromMinute: 60_000, to: 200_000 });
  });

  it('answers count 0 and NaN elsewhere for no data', () => {
    const r = aggregateRollups([], ['count', 'mean'], 60_000);
    expect(r.count).toBe(0);
    expect(r.mean).toBeNaN();
  });
});
