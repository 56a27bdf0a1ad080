import type { Reading } from '../reading.js';
import { episodeAlert, resolve } from './episode.js';
import {
  aggregate,
  count,
  initialState,
  outlier,
  rateOfChange,
  threshold,
  type RuleState,
} from './evaluate.js';
import type { Alert, AlertSink, Rule, SilenceRule, WindowResult } from './types.js';

/**
 * All rule state of one sensor. Rules are looked up by id, so a rule replaced at run time with the
 * same id and kind keeps its state, and one whose kind changed starts afresh.
 */
export class SensorRules {
  private states = new Map<string, RuleState>();
  /** The rule list last judged with: an episode of a rule gone from the next one is ended (`current`). */
  private seen: readonly Rule[] | undefined;

  /**
   * `rules` is read on every use, so replacing the pipeline's rule list at run time takes effect
   * for every sensor at once: a firing episode of a rule that is gone (or no longer judges this
   * sensor) is resolved at the sensor's next event, and the state of such a rule dropped at the next
   * snapshot. Scoped rules are resolved for the sensor by scope.ts judgedBy.
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

  /**
   * The rules in force, after ending the episodes of those no longer among them (deleted, rescoped
   * away from this sensor, or of another kind now): each firing one is resolved at `ts`, so no sink
   * (an Alertmanager re-sent its firing alerts) keeps an alert that nothing would ever resolve.
   */
  private current(ts: number, out: AlertSink): readonly Rule[] {
    const rules = this.rules();
    if (rules === this.seen) return rules;
    const before = this.seen;
    this.seen = rules;
    if (before === undefined) return rules;
    const kept = new Map(rules.map((r) => [r.id, r.kind]));
    for (const rule of before) {
      const st = this.states.get(rule.id);
      if (kept.get(rule.id) === rule.kind || st === undefined || st.firingSince === null) continue;
      const metric = rule.kind === 'silence' ? '' : rule.metric;
      const why = `${rule.id} no longer judges ${this.sensorId} (the rule was changed or removed)`;
      out.push(resolve(rule, st, this.sensorId, metric, ts, 0, why));
      this.states.delete(rule.id);
    }
    return rules;
  }

  /** Threshold, outlier and rate-of-change rules, on an in-time reading. */
  onReading(r: Reading, out: AlertSink): void {
    for (const rule of this.current(r.ts, out)) {
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
    for (const rule of this.current(end, out)) {
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
    for (const rule of this.current(streamTime, out)) {
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
    for (const rule of this.current(ts, out)) {
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
