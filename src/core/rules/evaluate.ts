import { episodeAlert, fire, heldSince, resolve } from './episode.js';
import type { AlertReport } from '../outputs.js';
import type {
  AggregateRule,
  Alert,
  CountRule,
  OutlierRule,
  RateOfChangeRule,
  Rule,
  ThresholdRule,
  WindowResult,
} from './types.js';

/**
 * Per-sensor state of one rule. `firingSince` is the event time the current episode started, or
 * null when the rule is not firing. Kind-specific fields follow.
 */
export type RuleState =
  | { k: 'threshold'; firingSince: number | null; pendingSince: number | null }
  | { k: 'outlier'; firingSince: number | null; n: number; mean: number; m2: number }
  | { k: 'rate-of-change'; firingSince: number | null; prevTs: number | null; prev: number }
  | { k: 'count'; firingSince: number | null }
  | {
      k: 'aggregate';
      firingSince: number | null;
      pendingSince: number | null;
      /** While firing: the start of the windows back to back within bounds (keepFiringFor). */
      clearSince?: number | null;
    }
  | { k: 'silence'; firingSince: number | null };

export function initialState(rule: Rule): RuleState {
  switch (rule.kind) {
    case 'threshold':
      return { k: 'threshold', firingSince: null, pendingSince: null };
    case 'outlier':
      return { k: 'outlier', firingSince: null, n: 0, mean: 0, m2: 0 };
    case 'rate-of-change':
      return { k: 'rate-of-change', firingSince: null, prevTs: null, prev: 0 };
    case 'count':
      return { k: 'count', firingSince: null };
    case 'aggregate':
      return { k: 'aggregate', firingSince: null, pendingSince: null, clearSince: null };
    case 'silence':
      return { k: 'silence', firingSince: null };
  }
}

/** The bounds a threshold or aggregate rule holds a value to. */
type Bounds = Pick<ThresholdRule, 'above' | 'below' | 'hysteresis'>;

function describeBreach(rule: Bounds, v: number): string | undefined {
  if (rule.above !== undefined && v > rule.above) return `above ${rule.above}`;
  if (rule.below !== undefined && v < rule.below) return `below ${rule.below}`;
  return undefined;
}

function isClear(rule: Bounds, v: number): boolean {
  return (
    (rule.above === undefined || v <= rule.above - rule.hysteresis) &&
    (rule.below === undefined || v >= rule.below + rule.hysteresis)
  );
}

export function threshold(
  rule: ThresholdRule,
  st: Extract<RuleState, { k: 'threshold' }>,
  sensorId: string,
  ts: number,
  v: number,
): Alert | undefined {
  if (st.firingSince !== null) {
    if (!isClear(rule, v)) return undefined;
    return resolve(rule, st, sensorId, rule.metric, ts, v, `${rule.metric} of ${sensorId} is back to ${v}`);
  }
  const why = describeBreach(rule, v);
  if (why === undefined) {
    st.pendingSince = null;
    return undefined;
  }
  const startedAt = heldSince(st, ts, ts, rule.minDurationMs);
  if (startedAt === undefined) return undefined;
  const held = rule.minDurationMs > 0 ? ` for ${ts - startedAt} ms` : '';
  return fire(
    rule,
    st,
    sensorId,
    rule.metric,
    startedAt,
    ts,
    v,
    `${rule.metric} of ${sensorId} is ${v}, ${why}${held}`,
  );
}

export function outlier(
  rule: OutlierRule,
  st: Extract<RuleState, { k: 'outlier' }>,
  sensorId: string,
  ts: number,
  v: number,
): Alert | undefined {
  const learned = rule.mean === undefined || rule.stddev === undefined;
  const mean = learned ? st.mean : rule.mean;
  const sd = learned ? (st.n > 0 ? Math.sqrt(st.m2 / st.n) : 0) : rule.stddev;
  const ready = !learned || st.n >= rule.minSamples;
  // The running statistics learn from every in-time reading, after it has been judged.
  if (learned) {
    st.n += 1;
    const delta = v - st.mean;
    st.mean += delta / st.n;
    st.m2 += delta * (v - st.mean);
  }
  if (!ready || sd <= 0) return undefined;
  const z = Math.abs(v - mean) / sd;
  if (z > rule.zScore && st.firingSince === null) {
    const basis = learned ? 'learned' : 'configured';
    return fire(
      rule,
      st,
      sensorId,
      rule.metric,
      ts,
      ts,
      v,
      `${rule.metric} of ${sensorId} is ${v}, z-score ${z.toFixed(2)} > ${rule.zScore} (${basis} mean ${mean.toFixed(3)}, stddev ${sd.toFixed(3)})`,
    );
  }
  if (z <= rule.zScore && st.firingSince !== null) {
    return resolve(rule, st, sensorId, rule.metric, ts, v, `${rule.metric} of ${sensorId} is back to ${v}`);
  }
  return undefined;
}

export function rateOfChange(
  rule: RateOfChangeRule,
  st: Extract<RuleState, { k: 'rate-of-change' }>,
  sensorId: string,
  ts: number,
  v: number,
): Alert | undefined {
  const prevTs = st.prevTs;
  const prev = st.prev;
  // Only readings that move event time forward form a slope; an out-of-order one is skipped here.
  if (prevTs !== null && ts <= prevTs) return undefined;
  st.prevTs = ts;
  st.prev = v;
  if (prevTs === null) return undefined;
  const perSecond = Math.abs(v - prev) / ((ts - prevTs) / 1000);
  if (perSecond > rule.maxPerSecond && st.firingSince === null) {
    return fire(
      rule,
      st,
      sensorId,
      rule.metric,
      ts,
      ts,
      v,
      `${rule.metric} of ${sensorId} changed from ${prev} to ${v} (${perSecond.toFixed(3)}/s > ${rule.maxPerSecond}/s)`,
    );
  }
  if (perSecond <= rule.maxPerSecond && st.firingSince !== null) {
    return resolve(
      rule,
      st,
      sensorId,
      rule.metric,
      ts,
      v,
      `${rule.metric} of ${sensorId} is changing at ${perSecond.toFixed(3)}/s again`,
    );
  }
  return undefined;
}

/** One closed window of one sensor: every metric's result in it. */
export interface ClosedWindow {
  readonly sensorId: string;
  readonly window: string;
  readonly start: number;
  readonly end: number;
  readonly results: readonly WindowResult[];
}

/**
 * A window without the rule's metric counts 0 of it: a log source whose window had no ERROR line
 * resolves its "too many ERRORs" alert. The firing alert carries the window's report.
 */
export function count(
  rule: CountRule,
  st: Extract<RuleState, { k: 'count' }>,
  w: ClosedWindow,
): Alert | undefined {
  const result = w.results.find((r) => r.metric === rule.metric);
  const n = result?.count ?? 0;
  if (n > rule.above && st.firingSince === null) {
    const alert = fire(
      rule,
      st,
      w.sensorId,
      rule.metric,
      w.start,
      w.end,
      n,
      `${n} ${rule.metric} readings of ${w.sensorId} in ${w.window} [${new Date(w.start).toISOString()}, ${new Date(w.end).toISOString()}), more than ${rule.above}`,
    );
    return { ...alert, report: windowReport(w, result) };
  }
  if (n > rule.above && st.firingSince !== null) {
    // Still firing: this window is reported too, once, with its own report (its counts and lines), so
    // every window over the threshold reaches the operator (an error storm is more than its first minute).
    const since = new Date(st.firingSince).toISOString();
    const alert = episodeAlert(
      rule,
      w.sensorId,
      rule.metric,
      'firing',
      st.firingSince,
      w.end,
      n,
      `${n} ${rule.metric} readings of ${w.sensorId} in ${w.window} [${new Date(w.start).toISOString()}, ${new Date(w.end).toISOString()}), more than ${rule.above}: still firing since ${since}`,
      w.start,
    );
    return { ...alert, report: windowReport(w, result) };
  }
  if (n <= rule.above && st.firingSince !== null) {
    return resolve(
      rule,
      st,
      w.sensorId,
      rule.metric,
      w.end,
      n,
      `${n} ${rule.metric} readings of ${w.sensorId} in ${w.window}, back to at most ${rule.above}`,
    );
  }
  return undefined;
}

/**
 * The threshold of a window's aggregate, with a pending period: windows breaching back to back from
 * `pendingSince` fire once they span `minDurationMs`; a window within bounds ends the pending period.
 * Firing, it resolves once windows clear back to back from `clearSince` span `keepFiringForMs` (0: the
 * first clear window), so one quiet window inside an incident does not end it and start another.
 */
export function aggregate(
  rule: AggregateRule,
  st: Extract<RuleState, { k: 'aggregate' }>,
  w: ClosedWindow,
): Alert | undefined {
  const result = w.results.find((r) => r.metric === rule.metric);
  const v = result?.[rule.aggregate];
  if (result === undefined || result.count < rule.minCount || v === undefined || !Number.isFinite(v))
    return undefined;
  const what = `${rule.aggregate} of ${rule.metric} of ${w.sensorId} in ${w.window}`;
  if (st.firingSince !== null) {
    if (!isClear(rule, v)) {
      st.clearSince = null;
      return undefined;
    }
    st.clearSince ??= w.start;
    if (w.end - st.clearSince < rule.keepFiringForMs) return undefined;
    st.clearSince = null;
    return resolve(rule, st, w.sensorId, rule.metric, w.end, v, `${what} is back to ${round(v)}`);
  }
  const why = describeBreach(rule, v);
  if (why === undefined) {
    st.pendingSince = null;
    return undefined;
  }
  const startedAt = heldSince(st, w.start, w.end, rule.minDurationMs);
  if (startedAt === undefined) return undefined;
  const since = `since ${new Date(startedAt).toISOString()}`;
  return fire(
    rule,
    st,
    w.sensorId,
    rule.metric,
    startedAt,
    w.end,
    v,
    `${what} is ${round(v)}, ${why} ${since}`,
  );
}

/** A value as a person reads it in a message: at most 3 decimals. */
function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function windowReport(w: ClosedWindow, result: WindowResult | undefined): AlertReport {
  const counts: Record<string, number> = {};
  for (const r of w.results) counts[r.metric] = r.count;
  return {
    window: w.window,
    start: w.start,
    end: w.end,
    counts,
    lines: result?.exemplars ?? [],
    linesOmitted: result?.exemplarsOmitted ?? 0,
  };
}

/** The distinct `after` lengths of silence rules and their overrides: the stream clock keeps a queue for each. */
export function silenceThresholds(rules: readonly Rule[]): number[] {
  const after = (r: Rule): number[] => (r.kind === 'silence' ? [r.afterMs] : []);
  const all = rules.flatMap((r) => [...after(r), ...Object.values(r.overrides ?? {}).flatMap(after)]);
  return [...new Set(all)].sort((a, b) => a - b);
}
