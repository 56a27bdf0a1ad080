import { QuantileSketch, type SketchSnapshot } from './sketch.js';

/** Every aggregate a window can report. All are mergeable (two partial windows combine exactly). */
export const AGGREGATES = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'stddev',
  'first',
  'last',
  'rate',
  'p50',
  'p95',
  'p99',
] as const;
export type AggregateName = (typeof AGGREGATES)[number];

const QUANTILES: Readonly<Partial<Record<AggregateName, number>>> = { p50: 0.5, p95: 0.95, p99: 0.99 };

export function needsSketch(names: ReadonlySet<AggregateName>): boolean {
  return names.has('p50') || names.has('p95') || names.has('p99');
}

/**
 * Running state of one metric in one window. Mean and variance use Welford's update (numerically
 * stable) and Chan's formula to merge. `first`/`last` are by event time; equal times keep the earlier
 * arrival as first and the later arrival as last.
 */
export interface Accumulator {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** Sum of squared differences from the mean (Welford's M2). */
  m2: number;
  firstTs: number;
  first: number;
  lastTs: number;
  last: number;
  sketch: QuantileSketch | undefined;
  /**
   * Exemplars: raw texts of some of the readings counted (the ERROR lines of a log window), in
   * arrival order, at most the configured number per accumulator; `exOmitted` counts the rest.
   */
  ex?: string[];
  exOmitted?: number;
}

export function newAccumulator(withSketch = false): Accumulator {
  return {
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    mean: 0,
    m2: 0,
    firstTs: Number.POSITIVE_INFINITY,
    first: Number.NaN,
    lastTs: Number.NEGATIVE_INFINITY,
    last: Number.NaN,
    sketch: withSketch ? new QuantileSketch() : undefined,
  };
}

export function accumulate(acc: Accumulator, value: number, ts: number): void {
  acc.count += 1;
  acc.sum += value;
  if (value < acc.min) acc.min = value;
  if (value > acc.max) acc.max = value;
  const delta = value - acc.mean;
  acc.mean += delta / acc.count;
  acc.m2 += delta * (value - acc.mean);
  if (ts < acc.firstTs) {
    acc.firstTs = ts;
    acc.first = value;
  }
  if (ts >= acc.lastTs) {
    acc.lastTs = ts;
    acc.last = value;
  }
  acc.sketch?.add(value);
}

export function merge(into: Accumulator, from: Accumulator): void {
  if (from.count === 0) return;
  if (into.count === 0) {
    const { ex, exOmitted } = into;
    Object.assign(into, from, { sketch: into.sketch, ex, exOmitted });
    if (from.sketch !== undefined) {
      into.sketch ??= new QuantileSketch(from.sketch.relativeAccuracy);
      into.sketch.merge(from.sketch);
    }
    mergeExemplars(into, from);
    return;
  }
  const n = into.count + from.count;
  const delta = from.mean - into.mean;
  into.m2 += from.m2 + (delta * delta * into.count * from.count) / n;
  into.mean += (delta * from.count) / n;
  into.count = n;
  into.sum += from.sum;
  if (from.min < into.min) into.min = from.min;
  if (from.max > into.max) into.max = from.max;
  if (from.firstTs < into.firstTs) {
    into.firstTs = from.firstTs;
    into.first = from.first;
  }
  if (from.lastTs >= into.lastTs) {
    into.lastTs = from.lastTs;
    into.last = from.last;
  }
  if (from.sketch !== undefined) {
    into.sketch ??= new QuantileSketch(from.sketch.relativeAccuracy);
    into.sketch.merge(from.sketch);
  }
  mergeExemplars(into, from);
}

/** Exemplars of both, `into`'s first: merges run in time order, so the result is in time order too. */
function mergeExemplars(into: Accumulator, from: Accumulator): void {
  if (from.ex === undefined && from.exOmitted === undefined) return;
  into.ex = [...(into.ex ?? []), ...(from.ex ?? [])];
  const omitted = (into.exOmitted ?? 0) + (from.exOmitted ?? 0);
  if (omitted > 0) into.exOmitted = omitted;
}

/** Keeps `text` as an exemplar of the accumulator, or counts it as omitted beyond `max`. */
export function addExemplar(acc: Accumulator, text: string, max: number): void {
  const ex = (acc.ex ??= []);
  if (ex.length < max) ex.push(text);
  else acc.exOmitted = (acc.exOmitted ?? 0) + 1;
}

/** The first `max` exemplars of a (merged) accumulator and how many were left out. */
export function exemplarsOf(
  acc: Accumulator,
  max: number,
): { exemplars: string[]; omitted: number } | undefined {
  if (acc.ex === undefined) return undefined;
  const exemplars = acc.ex.slice(0, max);
  return { exemplars, omitted: (acc.exOmitted ?? 0) + acc.ex.length - exemplars.length };
}

/** Population standard deviation. */
export function stddev(acc: Accumulator): number {
  return acc.count === 0 ? Number.NaN : Math.sqrt(acc.m2 / acc.count);
}

/**
 * The requested aggregates of an accumulator. `rate` is readings per second over `durationMs` (the
 * window's length). Quantiles come from the sketch (relative accuracy 1 %).
 */
export function finish(
  acc: Accumulator,
  names: readonly AggregateName[],
  durationMs: number,
): Partial<Record<AggregateName, number>> {
  const out: Partial<Record<AggregateName, number>> = {};
  for (const name of names) {
    switch (name) {
      case 'count':
        out.count = acc.count;
        break;
      case 'sum':
        out.sum = acc.sum;
        break;
      case 'mean':
        out.mean = acc.count === 0 ? Number.NaN : acc.mean;
        break;
      case 'min':
        out.min = acc.count === 0 ? Number.NaN : acc.min;
        break;
      case 'max':
        out.max = acc.count === 0 ? Number.NaN : acc.max;
        break;
      case 'stddev':
        out.stddev = stddev(acc);
        break;
      case 'first':
        out.first = acc.first;
        break;
      case 'last':
        out.last = acc.last;
        break;
      case 'rate':
        out.rate = durationMs > 0 ? acc.count / (durationMs / 1000) : Number.NaN;
        break;
      default: {
        const q = QUANTILES[name];
        out[name] = q === undefined || acc.sketch === undefined ? Number.NaN : acc.sketch.quantile(q);
      }
    }
  }
  return out;
}

/**
 * Checkpoint form: a fixed-order tuple keeps snapshots small. Infinity/NaN are written as null. The
 * exemplars element is present only when the accumulator keeps exemplars, so snapshots of pipelines
 * without them are unchanged (the golden fixture holds).
 */
export type AccumulatorSnapshot = [
  count: number,
  sum: number,
  min: number | null,
  max: number | null,
  mean: number,
  m2: number,
  firstTs: number | null,
  first: number | null,
  lastTs: number | null,
  last: number | null,
  sketch: SketchSnapshot | null,
  exemplars?: [texts: string[], omitted: number],
];

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function snapshotAccumulator(a: Accumulator): AccumulatorSnapshot {
  const s: AccumulatorSnapshot = [
    a.count,
    a.sum,
    num(a.min),
    num(a.max),
    a.mean,
    a.m2,
    num(a.firstTs),
    num(a.first),
    num(a.lastTs),
    num(a.last),
    a.sketch === undefined ? null : a.sketch.toJSON(),
  ];
  if (a.ex !== undefined || a.exOmitted !== undefined) s.push([[...(a.ex ?? [])], a.exOmitted ?? 0]);
  return s;
}

export function restoreAccumulator(s: AccumulatorSnapshot): Accumulator {
  return {
    count: s[0],
    sum: s[1],
    min: s[2] ?? Number.POSITIVE_INFINITY,
    max: s[3] ?? Number.NEGATIVE_INFINITY,
    mean: s[4],
    m2: s[5],
    firstTs: s[6] ?? Number.POSITIVE_INFINITY,
    first: s[7] ?? Number.NaN,
    lastTs: s[8] ?? Number.NEGATIVE_INFINITY,
    last: s[9] ?? Number.NaN,
    sketch: s[10] === null ? undefined : QuantileSketch.fromJSON(s[10]),
    ...(s[11] === undefined ? {} : { ex: [...s[11][0]], ...(s[11][1] > 0 ? { exOmitted: s[11][1] } : {}) }),
  };
}
