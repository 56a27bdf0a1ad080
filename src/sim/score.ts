import {
  applyAlert,
  groupKey,
  groupNotification,
  type AlertGroup,
  type GroupSpec,
} from '../core/alert-groups.js';
import type { Alert } from '../core/outputs.js';
import { stationId } from './city.js';
import { DRIFT_PER_SECOND, HEAT_DEGREES, type Incident, type IncidentKind } from './incidents.js';

/** Which rule is meant to catch each kind of incident (the shipped config's rules by default). */
export type RuleOfKind = Readonly<Record<IncidentKind, string>>;

export const SHIPPED_RULES: RuleOfKind = {
  heat: 'temperature-high',
  stuck: 'humidity-stuck',
  noisy: 'noise-erratic',
  drift: 'pressure-drift',
  silent: 'station-silent',
};

export interface AlertScore {
  /** (incident, station) pairs, and those a matching alert fired for. */
  readonly cases: number;
  readonly alerted: number;
  /** Firing alerts, and those about an incident. */
  readonly firing: number;
  readonly matching: number;
  /** alerted / cases and matching / firing (1 when there is nothing to count). */
  readonly recall: number;
  readonly precision: number;
  readonly missed: readonly string[];
  readonly unexplained: readonly Alert[];
}

export interface ScoreOptions {
  /** How long after an incident's end an alert about it may still fire (windows closing); 60 s. */
  readonly graceMs?: number;
  /** The stream's event time at the end: only incidents that ended by then are cases. */
  readonly until?: number;
}

/**
 * Scores alerts against the incidents that happened. A firing alert matches an incident when its rule
 * is the one meant for the incident's kind, its sensor is one of the incident's stations and it fired
 * (event time) from the incident's start to `graceMs` after its end, the time windows take to close.
 * Recall counts (incident, station) pairs, so a heat episode over five stations is five cases.
 */
export function scoreAlerts(
  incidents: readonly Incident[],
  alerts: readonly Alert[],
  rules: RuleOfKind = SHIPPED_RULES,
  o: ScoreOptions = {},
): AlertScore {
  const graceMs = o.graceMs ?? 60_000;
  const until = o.until ?? Infinity;
  const firing = alerts.filter((a) => a.state === 'firing');
  const matches = (a: Alert, incident: Incident, station: number): boolean =>
    a.ruleId === rules[incident.kind] &&
    a.sensorId === stationId(station) &&
    a.ts >= incident.start &&
    a.ts <= incident.end + graceMs;
  const missed: string[] = [];
  let cases = 0;
  for (const incident of incidents.filter((i) => i.end <= until))
    for (const station of incident.stations) {
      cases++;
      if (!firing.some((a) => matches(a, incident, station)))
        missed.push(`${incident.id} at ${stationId(station)}`);
    }
  const unexplained = firing.filter(
    (a) => !incidents.some((incident) => incident.stations.some((s) => matches(a, incident, s))),
  );
  const matching = firing.length - unexplained.length;
  return {
    cases,
    alerted: cases - missed.length,
    firing: firing.length,
    matching,
    recall: cases === 0 ? 1 : (cases - missed.length) / cases,
    precision: firing.length === 0 ? 1 : matching / firing.length,
    missed,
    unexplained,
  };
}

/** One line per incident, for a person to read next to the alerts. */
export function describeIncident(incident: Incident): string {
  const first = incident.stations[0] ?? 0;
  const last = incident.stations[incident.stations.length - 1] ?? first;
  const where = first === last ? stationId(first) : `${stationId(first)}..${stationId(last)}`;
  const what: Record<IncidentKind, string> = {
    heat: `heat episode (temperature +${HEAT_DEGREES} °C)`,
    stuck: 'humidity sensor stuck',
    noisy: 'noise sensor erratic',
    drift: `pressure sensor drifting (+${DRIFT_PER_SECOND} hPa/s)`,
    silent: 'station silent',
  };
  const seconds = Math.round((incident.end - incident.start) / 1000);
  return `${incident.id}: ${what[incident.kind]} at ${where} from ${new Date(incident.start).toISOString()} for ${seconds}s`;
}

/**
 * What a grouped sink sends for these alerts (core/alert-groups.ts), timed by event time as a live
 * stream times it by the clock: each group change waits `waitMs`, and the first that comes due sends
 * its group as it is then (the changes it shows send nothing more).
 */
export function groupedNotifications(alerts: readonly Alert[], spec: GroupSpec): Alert[] {
  const groups = new Map<string, AlertGroup>();
  const due = new Map<string, number>();
  const out: Alert[] = [];
  const flush = (until: number): void => {
    for (const [key, at] of [...due].sort((a, b) => a[1] - b[1])) {
      const group = groups.get(key);
      if (at > until || group === undefined) continue;
      out.push(groupNotification(group));
      due.delete(key);
    }
  };
  for (const a of [...alerts].sort((x, y) => x.ts - y.ts)) {
    flush(a.ts);
    const key = groupKey(spec, a);
    const next = applyAlert(spec, groups.get(key), a);
    if (next === undefined) continue;
    groups.set(key, next);
    if (!due.has(key)) due.set(key, a.ts + spec.waitMs);
  }
  flush(Number.POSITIVE_INFINITY);
  return out;
}
