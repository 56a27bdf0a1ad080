import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import {
  accumulate,
  AGGREGATES,
  finish,
  merge,
  newAccumulator,
  restoreAccumulator,
  snapshotAccumulator,
} from '../../src/core/aggregate.js';
import { QuantileSketch } from '../../src/core/sketch.js';

const all = [...AGGREGATES];

function accOf(values: readonly number[], t0 = 0): ReturnType<typeof newAccumulator> {
  const acc = newAccumulator(true);
  values.forEach((v, i) => {
    accumulate(acc, v, t0 + i);
  });
  return acc;
}

describe('accumulator', () => {
  it('computes every aggregate', () => {
    const r = finish(accOf([3, -1, 10, 4]), all, 2_000);
    expect(r).toMatchObject({ count: 4, sum: 16, mean: 4, min: -1, max: 10, first: 3, last: 4, rate: 2 });
    // population stddev of [3, -1, 10, 4]: sqrt(((−1)² + (−5)² + 6² + 0²) / 4)
    expect(r.stddev).toBeCloseTo(Math.sqrt(62 / 4), 12);
    // quantile q is the value of rank floor(q·(n−1)) in sorted order [−1, 3, 4, 10], within 1 %
    expect(Math.abs((r.p50 as number) - 3)).toBeLessThanOrEqual(0.03);
    expect(Math.abs((r.p99 as number) - 4)).toBeLessThanOrEqual(0.04);
  });

  it('first and last follow event time, not arrival order', () => {
    const acc = newAccumulator();
    accumulate(acc, 1, 50);
    accumulate(acc, 2, 10);
    accumulate(acc, 3, 30);
    expect(finish(acc, ['first', 'last'], 1)).toEqual({ first: 2, last: 1 });
  });

  it('merging any split equals accumulating the whole', () => {
    const values = [5, 1, 9, 2, 8, 3, 7.5, -4];
    const whole = finish(accOf(values), all, 1000);
    for (let cut = 0; cut <= values.length; cut++) {
      const a = accOf(values.slice(0, cut));
      merge(a, accOf(values.slice(cut), cut));
      const merged = finish(a, all, 1000);
      for (const k of all) expect(merged[k]).toBeCloseTo(whole[k] as number, 9);
    }
  });

  it('an empty accumulator finishes as NaN, never as Infinity', () => {
    const f = finish(newAccumulator(), ['count', 'min', 'mean', 'stddev'], 1);
    expect(f.count).toBe(0);
    expect(f.min).toBeNaN();
    expect(f.mean).toBeNaN();
    expect(f.stddev).toBeNaN();
  });

  it('survives a snapshot round trip through JSON', () => {
    const acc = accOf([1.5, 2.5, 100]);
    const back = restoreAccumulator(roundTrip(snapshotAccumulator(acc)));
    expect(finish(back, all, 1000)).toEqual(finish(acc, all, 1000));
    expect(snapshotAccumulator(restoreAccumulator(snapshotAccumulator(newAccumulator())))).toEqual(
      snapshotAccumulator(newAccumulator()),
    );
  });
});

describe('QuantileSketch (DDSketch)', () => {
  it('stays within 1 % relative error of the exact quantile', () => {
    const values = Array.from(
      { length: 10_000 },
      (_, i) => Math.exp((i % 997) / 100) * (i % 3 === 0 ? -1 : 1),
    );
    const sketch = new QuantileSketch(0.01);
    values.forEach((v) => {
      sketch.add(v);
    });
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))] as number;
      expect(Math.abs(sketch.quantile(q) - exact)).toBeLessThanOrEqual(0.01 * Math.abs(exact) + 1e-12);
    }
  });

  it('is order independent and mergeable', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const whole = new QuantileSketch();
    [0, 5, 0.001, -3, 42].forEach((v, i) => {
      (i % 2 === 0 ? a : b).add(v);
    });
    [42, -3, 0.001, 5, 0].forEach((v) => {
      whole.add(v);
    });
    a.merge(b);
    expect(a.toJSON()).toEqual(whole.toJSON());
    expect(QuantileSketch.fromJSON(whole.toJSON()).quantile(0.5)).toBe(whole.quantile(0.5));
  });

  it('refuses to merge sketches of different accuracy', () => {
    expect(() => {
      new QuantileSketch(0.01).merge(new QuantileSketch(0.02));
    }).toThrow(RangeError);
  });
});
