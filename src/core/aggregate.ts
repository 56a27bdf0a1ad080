/**
 * Window aggregates. An accumulator is a small mutable record updated per value and mergeable with
 * another accumulator of the same window (so partial windows can be combined).
 */
export interface Accumulator {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface AggregateValues {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly sum: number;
}

export function newAccumulator(): Accumulator {
  return { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
}

export function accumulate(acc: Accumulator, value: number): void {
  acc.count += 1;
  acc.sum += value;
  if (value < acc.min) acc.min = value;
  if (value > acc.max) acc.max = value;
}

export function merge(into: Accumulator, from: Accumulator): void {
  into.count += from.count;
  into.sum += from.sum;
  if (from.min < into.min) into.min = from.min;
  if (from.max > into.max) into.max = from.max;
}

export function finish(acc: Accumulator): AggregateValues {
  if (acc.count === 0) return { count: 0, min: Number.NaN, max: Number.NaN, mean: Number.NaN, sum: 0 };
  return { count: acc.count, min: acc.min, max: acc.max, mean: acc.sum / acc.count, sum: acc.sum };
}
