import type { Alert, AlertReport, Severity } from './outputs.js';

/**
 * Grouped notifications (a sink's `group`), free of I/O: alerts of one rule in one station area make
 * one group, and a sink is told of the group, not of each alert. Every alert that changes a group's
 * firing members is a group CHANGE and bumps its version; the notifier enqueues one item per change
 * (id `group:<key>:<version>`, due after the sink's `group.wait`), and the item that comes due first
 * sends the group as it is THEN, so changes within the wait make one notification and the items of
 * the changes it covered are dropped (transport/notify/notifier.ts).
 *
 * A further report of a member still firing (a count rule's next window over its threshold) is a
 * change too: the group's notification then carries that report (its counts and lines), so a grouped
 * sink is told of every window over the threshold. Reports of several members within `wait` make one
 * notification carrying the last of them; the message names every change.
 *
 * A group's lifecycle:
 *   (none) --a member fires--> firing --members fire, report or resolve--> firing
 *   firing --the last member resolves--> resolved --a member fires--> firing (a new episode: its
 *   start and its resolved list begin afresh)
 */
export type GroupField = 'rule' | 'severity' | 'area' | 'sensor';

export interface GroupSpec {
  readonly by: readonly GroupField[];
  /** The area of a sensor: this pattern's first group in its id (the whole match without a group). */
  readonly area: RegExp | undefined;
  readonly waitMs: number;
}

export interface GroupMember {
  readonly since: number;
  readonly value: number;
  readonly severity: Severity;
  /** The start of the last window reported of it: an alert sent again (a replay) is no new report. */
  readonly reported?: number;
}

export interface AlertGroup {
  readonly key: string;
  /** Bumped by every change; a notification carries the version it shows. */
  readonly version: number;
  readonly ruleId: string;
  readonly kind: string;
  readonly metric: string;
  /** The area the group covers, when grouped by area (else the key). */
  readonly label: string;
  /** Firing members by sensor id. */
  readonly firing: Readonly<Record<string, GroupMember>>;
  /** Members resolved in this episode, by sensor id: when. */
  readonly resolved: Readonly<Record<string, number>>;
  /** Event time the episode began. */
  readonly startedAt: number;
  /** Event time of the last change, and what it was. */
  readonly ts: number;
  readonly change: string;
  /** The highest severity of the episode (a resolved group keeps it). */
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
  /** The last report of a member (a count rule's window), when the last change was one. */
  readonly report?: AlertReport;
}

const RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/**
 * A group's stored state read back, or undefined when it is not one (unreadable JSON, another shape):
 * a state that cannot be read must not stop the hand-out for good.
 */
export function parseGroup(json: string): AlertGroup | undefined {
  try {
    const g = JSON.parse(json) as Record<string, unknown> | null;
    const isRecord = (v: unknown): boolean => typeof v === 'object' && v !== null;
    return isRecord(g) &&
      typeof g?.['key'] === 'string' &&
      Number.isSafeInteger(g['version']) &&
      isRecord(g['firing']) &&
      isRecord(g['resolved'])
      ? (g as unknown as AlertGroup)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A group with no member, at `version`: what a group whose state was lost starts from, its versions
 * going on past the last one sent (so its next notifications are not taken for repeats).
 */
export function emptyGroup(key: string, version: number): AlertGroup {
  return {
    key,
    version,
    ruleId: '',
    kind: '',
    metric: '',
    label: key,
    firing: {},
    resolved: {},
    startedAt: 0,
    ts: 0,
    change: '',
    severity: 'info',
    labels: {},
  };
}

/** A sensor's area: the pattern's first group (or whole match) in its id; its id when none matches. */
export function areaOf(spec: GroupSpec, sensorId: string): string {
  const m = spec.area?.exec(sensorId);
  return m === null || m === undefined ? sensorId : (m[1] ?? m[0]);
}

/** `rule=temperature-high,area=st-001`: the fields of `by`, in their order. */
export function groupKey(spec: GroupSpec, a: Alert): string {
  const value: Record<GroupField, string> = {
    rule: a.ruleId,
    severity: a.severity,
    area: areaOf(spec, a.sensorId),
    sensor: a.sensorId,
  };
  return spec.by.map((f) => `${f}=${value[f]}`).join(',');
}

/**
 * The group after `a`, or undefined when `a` changes nothing (a repeat: a member firing again, or a
 * resolve of a sensor that is not firing).
 */
export function applyAlert(spec: GroupSpec, group: AlertGroup | undefined, a: Alert): AlertGroup | undefined {
  const firing = group?.firing ?? {};
  const member = firing[a.sensorId];
  const reported =
    a.state === 'firing' &&
    member !== undefined &&
    a.report !== undefined &&
    a.report.start > (member.reported ?? Number.NEGATIVE_INFINITY);
  if (!reported && (a.state === 'firing' ? member !== undefined : member === undefined)) return undefined;
  const newEpisode = group === undefined || Object.keys(firing).length === 0;
  const without = <T>(r: Readonly<Record<string, T>>): Record<string, T> =>
    Object.fromEntries(Object.entries(r).filter(([id]) => id !== a.sensorId));
  const nextFiring = without(firing);
  const resolved = without(newEpisode ? {} : group.resolved);
  if (a.state === 'firing')
    nextFiring[a.sensorId] = {
      since: member?.since ?? a.startedAt,
      value: a.value,
      severity: a.severity,
      ...(a.report === undefined ? {} : { reported: a.report.start }),
    };
  else resolved[a.sensorId] = a.ts;
  const key = group?.key ?? groupKey(spec, a);
  return {
    key,
    version: (group?.version ?? 0) + 1,
    ruleId: a.ruleId,
    kind: a.kind,
    metric: a.metric,
    label: spec.by.includes('area') ? areaOf(spec, a.sensorId) : key,
    firing: nextFiring,
    resolved,
    startedAt: newEpisode ? a.startedAt : group.startedAt,
    ts: a.ts,
    change: reported
      ? `${a.sensorId} reported ${a.value} ${a.metric} in ${a.report.window}`
      : `${a.sensorId} ${a.state}`,
    severity: newEpisode || RANK[a.severity] > RANK[group.severity] ? a.severity : group.severity,
    labels: a.labels,
    ...(a.report === undefined ? {} : { report: a.report }),
  };
}

/**
 * The group as one alert-shaped notification, so every sink (webhook, email, file, MQTT) sends it as
 * it sends an alert: id `group:<key>:<version>` (a sink drops repeats by id), the area as its source,
 * firing while any member fires, value = members firing, the members in the message and labels.
 */
export function groupNotification(g: AlertGroup): Alert {
  const members = Object.entries(g.firing).sort(([a], [b]) => a.localeCompare(b));
  const resolved = Object.keys(g.resolved).sort();
  const firing = members.map(([id]) => id);
  const message =
    firing.length > 0
      ? `${firing.length} firing in ${g.label}: ${firing.join(', ')}${resolved.length > 0 ? `; resolved: ${resolved.join(', ')}` : ''} (last change: ${g.change})`
      : `all resolved in ${g.label}: ${resolved.join(', ')}`;
  return {
    id: `group:${g.key}:${g.version}`,
    ruleId: g.ruleId,
    kind: g.kind,
    sensorId: g.label,
    metric: g.metric,
    state: firing.length > 0 ? 'firing' : 'resolved',
    severity: g.severity,
    ts: g.ts,
    startedAt: g.startedAt,
    value: firing.length,
    message,
    labels: { ...g.labels, group: g.key, firing: firing.join(','), resolved: resolved.join(',') },
    ...(g.report === undefined ? {} : { report: g.report }),
  };
}
