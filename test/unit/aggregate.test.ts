import { describe, expect, it } from 'vitest';
import { accumulate, finish, merge, newAccumulator } from '../../src/core/aggregate.js';

describe('accumulator', () => {
  it('computes count, min, max, mean and sum', () => {
    const acc = newAccumulator();
    for (const v of [3, -1, 10, 4]) accumulate(acc, v);
    expect(finish(acc)).toEqual({ count: 4, min: -1, max: 10, mean: 4, sum: 16 });
  });

  it('merging two halves equals accumulating the whole', () => {
    const values = [5, 1, 9, 2, 8, 3];
    const whole = newAccumulator();
    for (const v of values) accumulate(whole, v);
    const a = newAccumulator();
    const b = newAccumulator();
    for (const v of values.slice(0, 2)) accumulate(a, v);
    for (const v of values.slice(2)) accumulate(b, v);
    merge(a, b);
    expect(finish(a)).toEqual(finish(whole));
  });

  it('an empty accumulator finishes as NaN, never as Infinity', () => {
    const f = finish(newAccumulator());
    expect(f.count).toBe(0);
    expect(f.min).toBeNaN();
    expect(f.mean).toBeNaN();
  });
});
