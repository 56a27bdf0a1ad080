import type { AggregateName } from './aggregate.js';
import { INSTANT_FORMS, parseInstant } from './instant.js';

/**
 * `POST /compute/metrics`, free of I/O: the request body is checked and turned into a plan (which
 * series to read for each key, which functions to compute); the caller reads the rollups and
 * computes. Each key other than from/to is a sensor id (a sensor with one metric), `sensorId.metric`,
 * or a metric name alone (that metric over all sensors). What cannot be answered is reported in
 * `errors`, one sentence each, while every valid part is still computed.
 */

/** The functions a request may ask for, and the aggregate each one reads. */
export const METRIC_FUNCTIONS: Readonly<Record<string, AggregateName>> = {
  count: 'count',
  min: 'min',
  max: 'max',
  average: 'mean',
  mean: 'mean',
  sum: 'sum',
  stddev: 'stddev',
  p50: 'p50',
  p95: 'p95',
  p99: 'p99',
};

export interface Series {
  readonly sensorId: string;
  readonly metric: string;
}

export interface PlannedKey {
  readonly key: string;
  /** The series whose minutes are merged for this key (several for a metric over all sensors). */
  readonly series: readonly Series[];
  /** Requested function name -> the aggregate it reads. */
  readonly functions: readonly (readonly [string, AggregateName])[];
}

export type MetricsPlan =
  | {
      readonly ok: true;
      readonly from: number;
      /** Exclusive: the request's `to`, plus 1 ms when it asked for `"bounds": "[from, to]"`. */
      readonly to: number;
      readonly bounds: Bounds;
      readonly keys: PlannedKey[];
      readonly errors: string[];
    }
  | { readonly ok: false; readonly errors: string[] };

export { parseInstant };

const quote = (s: string): string => JSON.stringify(s);

/**
 * Which ends a request includes: half-open by default; `"bounds": "[from, to]"` includes `to` too (the
 * IoT metrics contract counts 61 readings from 15:12:00 to 15:13:00 at one a second).
 */
export const BOUNDS = ['[from, to)', '[from, to]'] as const;
export type Bounds = (typeof BOUNDS)[number];
/** Keys of a request that name no sensor. */
const RESERVED = new Set(['from', 'to', 'bounds']);

/** Resolves one key to its series, or says why it cannot. */
function resolve(
  key: string,
  bySensor: ReadonlyMap<string, string[]>,
  byMetric: ReadonlyMap<string, string[]>,
): Series[] | string {
  const metrics = bySensor.get(key);
  if (metrics !== undefined) {
    if (metrics.length === 1) return [{ sensorId: key, metric: metrics[0] as string }];
    return `${quote(key)} is a sensor with several metrics (${metrics.join(', ')}): ask for ${key}.<metric>`;
  }
  const dot = key.lastIndexOf('.');
  if (dot > 0) {
    const sensorId = key.slice(0, dot);
    const metric = key.slice(dot + 1);
    const has = bySensor.get(sensorId);
    if (has?.includes(metric) === true) return [{ sensorId, metric }];
    if (has !== undefined)
      return `${quote(key)}: sensor ${quote(sensorId)} has no metric ${quote(metric)} (it has ${has.join(', ')})`;
  }
  const sensors = byMetric.get(key);
  if (sensors !== undefined) return sensors.map((sensorId) => ({ sensorId, metric: key }));
  return `unknown key ${quote(key)}: it is neither a sensor id, nor sensorId.metric, nor a metric name with data`;
}

/** Checks a request body against the series that exist. */
export function planMetricsRequest(body: unknown, series: readonly Series[]): MetricsPlan {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return {
      ok: false,
      errors: ['the body must be a JSON object: {"<key>": ["count", ...], "from": ..., "to": ...}'],
    };
  const b = body as Record<string, unknown>;
  const from = parseInstant(b['from']);
  const to = parseInstant(b['to']);
  if (from === undefined || to === undefined) {
    const which = from === undefined ? 'from' : 'to';
    return {
      ok: false,
      errors: [
        `${which} ${b[which] === undefined ? 'is missing' : JSON.stringify(b[which])}: give ${INSTANT_FORMS}`,
      ],
    };
  }
  const bounds = b['bounds'] ?? BOUNDS[0];
  if (!(BOUNDS as readonly unknown[]).includes(bounds))
    return {
      ok: false,
      errors: [`bounds ${JSON.stringify(bounds)}: give "${BOUNDS[0]}" (the default) or "${BOUNDS[1]}"`],
    };
  if (from > to || (from === to && bounds === BOUNDS[0]))
    return {
      ok: false,
      errors: [
        `the range is empty or reversed: from ${String(b['from'])} is not before to ${String(b['to'])}`,
      ],
    };

  const bySensor = new Map<string, string[]>();
  const byMetric = new Map<string, string[]>();
  for (const s of series) {
    bySensor.set(s.sensorId, [...(bySensor.get(s.sensorId) ?? []), s.metric]);
    byMetric.set(s.metric, [...(byMetric.get(s.metric) ?? []), s.sensorId]);
  }
  const errors: string[] = [];
  const keys: PlannedKey[] = [];
  for (const [key, value] of Object.entries(b)) {
    if (RESERVED.has(key)) continue;
    if (!Array.isArray(value) || value.some((f) => typeof f !== 'string')) {
      errors.push(`${quote(key)}: the value must be a list of metric names such as ["count", "max"]`);
      continue;
    }
    const resolved = resolve(key, bySensor, byMetric);
    if (typeof resolved === 'string') {
      errors.push(resolved);
      continue;
    }
    const functions: (readonly [string, AggregateName])[] = [];
    for (const f of value as string[]) {
      const aggregate = METRIC_FUNCTIONS[f];
      if (aggregate === undefined)
        errors.push(
          `${quote(key)}: unknown metric ${quote(f)} (use ${Object.keys(METRIC_FUNCTIONS).join(', ')})`,
        );
      else functions.push([f, aggregate]);
    }
    if (functions.length > 0) keys.push({ key, series: resolved, functions });
  }
  if (keys.length === 0)
    return { ok: false, errors: errors.length > 0 ? errors : ['the request names no sensor or metric'] };
  const inclusive = bounds === BOUNDS[1];
  return { ok: true, from, to: inclusive ? to + 1 : to, bounds: bounds as Bounds, keys, errors };
}
