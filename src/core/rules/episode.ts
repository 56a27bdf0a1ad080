import { alertId } from '../alert-id.js';
import type { Alert, AlertState } from '../outputs.js';
import type { Rule } from './types.js';

/**
 * The life cycle every rule shares, per sensor:
 *
 *   ok --(condition holds)--> firing     emits `firing`, id = h(rule, sensor, startedAt, firing)
 *   firing --(condition clears)--> ok    emits `resolved`, id = h(rule, sensor, startedAt, resolved)
 *
 *   firing --(still holds, a count rule's next window)--> firing   emits a further `firing` report of
 *                                       the episode, id = h(rule, sensor, startedAt, firing, window start)
 *
 * `startedAt` (event time of the episode's start) ties the alerts of one episode together and makes
 * the ids deterministic, so a replay yields the same ids and sinks drop the repeats.
 */
export function episodeAlert(
  rule: Rule,
  sensorId: string,
  metric: string,
  state: AlertState,
  startedAt: number,
  ts: number,
  value: number,
  message: string,
  reportOf?: number,
): Alert {
  return {
    id: alertId(rule.id, sensorId, startedAt, state, reportOf),
    ruleId: rule.id,
    kind: rule.kind,
    sensorId,
    metric,
    state,
    severity: rule.severity,
    ts,
    startedAt,
    value,
    message,
    labels: rule.labels,
  };
}

/** The state every rule keeps about its current episode. */
export interface EpisodeState {
  firingSince: number | null;
}

/** Starts an episode at `startedAt` and returns its `firing` alert. */
export function fire(
  rule: Rule,
  st: EpisodeState,
  sensorId: string,
  metric: string,
  startedAt: number,
  ts: number,
  value: number,
  message: string,
): Alert {
  st.firingSince = startedAt;
  return episodeAlert(rule, sensorId, metric, 'firing', startedAt, ts, value, message);
}

/** Ends the current episode and returns its `resolved` alert (same episode start as its firing). */
export function resolve(
  rule: Rule,
  st: EpisodeState,
  sensorId: string,
  metric: string,
  ts: number,
  value: number,
  message: string,
): Alert {
  const startedAt = st.firingSince ?? ts;
  st.firingSince = null;
  return episodeAlert(rule, sensorId, metric, 'resolved', startedAt, ts, value, message);
}

/**
 * A pending period: the condition holds from `from` (kept in `pendingSince` while it goes on) and
 * counts once it has held for `minMs` at `now`. Returns the episode's start then (and clears the
 * pending period), undefined while it is still pending.
 */
export function heldSince(
  st: { pendingSince: number | null },
  from: number,
  now: number,
  minMs: number,
): number | undefined {
  st.pendingSince ??= from;
  if (now - st.pendingSince < minMs) return undefined;
  const startedAt = st.pendingSince;
  st.pendingSince = null;
  return startedAt;
}
