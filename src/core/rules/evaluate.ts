import type { Reading } from '../reading.js';
import { episodeAlert, fire, heldSince, resolve } from './episode.js';
import type { AlertReport } from '../outputs.js';
import type {
  AggregateRule,
  Alert,
  AlertSink,
  CountRule,
  OutlierRule,
  RateOfChangeRule,
  Rule,
  SilenceRule,
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

function initialState(rule: Rule): RuleState {
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

function threshold(
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

function outlier(
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

function rateOfChange(
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
interface ClosedWindow {
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
function count(rule: CountRule, st: Extract<RuleState, { k: 'count' }>, w: ClosedWindow): Alert | undefined {
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
function aggregate(
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

/**
 * All rule state of one sensor. Rules are looked up by id, so a rule replaced at run time with the
 * same id and kind keeps its state, and one whose kind changed starts afresh.
 */
export class SensorRules {
  private states = new Map<string, RuleState>();

  /**
   * `rules` is read on every use, so replacing the pipeline's rule list at run time takes effect
   * for every sensor at once; the state of a rule that is gone (or no longer judges this sensor) is
   * dropped at the next snapshot. Scoped rules are resolved for the sensor by scope.ts judgedBy.
   */
  constructor(
    private readonly sensorId: string,
    private readonly rules: () => readonly Rule[],
  ) {}

  private state(rule: Rule): RuleState {
    let st = this.states.get(rule.id);
    if (st === undefined || st.k !== rule.kind) {
      st = initialState(rule);
      this.states.set(rule.id, st);
    }
    return st;
  }

  /** Threshold, outlier and rate-of-change rules, on an in-time reading. */
  onReading(r: Reading, out: AlertSink): void {
    for (const rule of this.rules()) {
      if (rule.kind === 'count' || rule.kind === 'aggregate' || rule.kind === 'silence') continue;
      const v = r.values[rule.metric];
      if (v === undefined) continue;
      const st = this.state(rule);
      let alert: Alert | undefined;
      if (rule.kind === 'threshold' && st.k === 'threshold')
        alert = threshold(rule, st, this.sensorId, r.ts, v);
      else if (rule.kind === 'outlier' && st.k === 'outlier')
        alert = outlier(rule, st, this.sensorId, r.ts, v);
      else if (rule.kind === 'rate-of-change' && st.k === 'rate-of-change')
        alert = rateOfChange(rule, st, this.sensorId, r.ts, v);
      if (alert !== undefined) out.push(alert);
    }
  }

  /** Count and aggregate rules, on each closed window, with the results of every metric in it. */
  onWindowClosed(
    window: string,
    start: number,
    end: number,
    results: readonly WindowResult[],
    out: AlertSink,
  ): void {
    for (const rule of this.rules()) {
      if ((rule.kind !== 'count' && rule.kind !== 'aggregate') || rule.window !== window) continue;
      const st = this.state(rule);
      const w = { sensorId: this.sensorId, window, start, end, results };
      let alert: Alert | undefined;
      if (rule.kind === 'count' && st.k === 'count') alert = count(rule, st, w);
      else if (rule.kind === 'aggregate' && st.k === 'aggregate') alert = aggregate(rule, st, w);
      if (alert !== undefined) out.push(alert);
    }
  }

  /**
   * Silence rules, when the partition's stream time has moved `streamTime − lastSeen` past the sensor's
   * last reading. `lastTs` is the event time of that reading; undefined for a sensor that was declared
   * expected and has never reported (its episode starts when it was expected).
   */
  onSilence(streamTime: number, lastSeen: number, lastTs: number | undefined, out: AlertSink): void {
    for (const rule of this.rules()) {
      if (rule.kind !== 'silence') continue;
      const st = this.state(rule);
      if (st.k !== 'silence' || st.firingSince !== null || streamTime - lastSeen < rule.afterMs) continue;
      const since = lastTs ?? lastSeen;
      st.firingSince = since;
      const what =
        lastTs === undefined
          ? `has not reported since it was expected at ${new Date(since).toISOString()}`
          : `has sent nothing for ${rule.afterMs} ms since ${new Date(since).toISOString()}`;
      out.push(
        silenceAlert(
          rule,
          this.sensorId,
          'firing',
          since,
          lastSeen + rule.afterMs,
          `${this.sensorId} ${what}`,
        ),
      );
    }
  }

  /** A reading arrived: silence episodes end. */
  onActivity(ts: number, out: AlertSink): void {
    for (const rule of this.rules()) {
      if (rule.kind !== 'silence') continue;
      const st = this.states.get(rule.id);
      if (st?.k !== 'silence' || st.firingSince === null) continue;
      const startedAt = st.firingSince;
      st.firingSince = null;
      out.push(
        silenceAlert(rule, this.sensorId, 'resolved', startedAt, ts, `${this.sensorId} reports again`),
      );
    }
  }

  snapshot(): [string, RuleState][] {
    const live = new Set(this.rules().map((r) => r.id));
    return [...this.states].filter(([id]) => live.has(id)).map(([id, st]) => [id, { ...st }]);
  }

  restore(s: readonly (readonly [string, RuleState])[]): this {
    this.states = new Map(s.map(([id, st]) => [id, { ...st }]));
    return this;
  }
}

function silenceAlert(
  rule: SilenceRule,
  sensorId: string,
  state: 'firing' | 'resolved',
  startedAt: number,
  ts: number,
  message: string,
): Alert {
  return episodeAlert(rule, sensorId, '', state, startedAt, ts, 0, message);
}

/** The distinct `after` lengths of silence rules and their overrides: the stream clock keeps a queue for each. */
export function silenceThresholds(rules: readonly Rule[]): number[] {
  const after = (r: Rule): number[] => (r.kind === 'silence' ? [r.afterMs] : []);
  const all = rules.flatMap((r) => [...after(r), ...Object.values(r.overrides ?? {}).flatMap(after)]);
  return [...new Set(all)].sort((a, b) => a - b);
}
