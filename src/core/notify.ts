import { LOG_LEVELS } from './log-record.js';
import type { Alert } from './outputs.js';

/** Which alerts a sink takes; an absent field takes everything (the config's `filter`). */
export interface SinkFilter {
  readonly states?: readonly string[] | undefined;
  readonly severities?: readonly string[] | undefined;
  readonly rules?: readonly string[] | undefined;
  readonly sensors?: readonly string[] | undefined;
  readonly withReport?: boolean | undefined;
}

export function sinkTakes(f: SinkFilter, a: Alert): boolean {
  if (f.states !== undefined && !f.states.includes(a.state)) return false;
  if (f.severities !== undefined && !f.severities.includes(a.severity)) return false;
  if (f.rules !== undefined && !f.rules.includes(a.ruleId)) return false;
  if (f.sensors !== undefined && !f.sensors.includes(a.sensorId)) return false;
  if (f.withReport !== undefined && (a.report !== undefined) !== f.withReport) return false;
  return true;
}

/**
 * An MQTT topic for an alert from a template: {sensorId} {ruleId} {severity} {state} {kind} {metric}
 * and {label.<name>} (empty when the rule has no such label). Characters MQTT gives a meaning in
 * topic names (+ # /, and NUL) are replaced by _ inside the values, so an id cannot add levels.
 */
export function alertTopic(template: string, a: Alert): string {
  const fields: Readonly<Record<string, string>> = {
    sensorId: a.sensorId,
    ruleId: a.ruleId,
    severity: a.severity,
    state: a.state,
    kind: a.kind,
    metric: a.metric,
  };
  return template.replace(/\{([A-Za-z]+(?:\.[^}]+)?)\}/g, (whole, name: string) => {
    const value = name.startsWith('label.') ? (a.labels[name.slice(6)] ?? '') : fields[name];
    return value === undefined ? whole : value.replace(/[+#/\0]/g, '_');
  });
}

/** The wait before delivery attempt `attempt + 1` (attempt ≥ 1): `initial` doubling up to `max`. */
export function retryDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A short one-line subject: `[Vigil] FIRING warning log-errors on billing`. */
export function alertSubject(a: Alert): string {
  return `[Vigil] ${a.state.toUpperCase()} ${a.severity} ${a.ruleId} on ${a.sensorId}`;
}

/**
 * The alert as a plain-text report, the same in the report file and the email: what fired and when,
 * and for a count rule's alert its window: the count of every metric (for a log source, lines per
 * level, every level shown) and the lines kept from it (the ERROR lines).
 */
export function renderReport(a: Alert): string {
  const out = [
    alertSubject(a).slice('[Vigil] '.length),
    '',
    `Alert id:  ${a.id}`,
    `Rule:      ${a.ruleId} (${a.kind})${a.metric === '' ? '' : `, metric ${a.metric}`}`,
    `Source:    ${a.sensorId}`,
    `State:     ${a.state} at ${iso(a.ts)} (episode since ${iso(a.startedAt)})`,
    `Value:     ${a.value}`,
    `Message:   ${a.message}`,
  ];
  const labels = Object.entries(a.labels);
  if (labels.length > 0) out.push(`Labels:    ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const r = a.report;
  if (r !== undefined) {
    out.push('', `Window ${r.window}: [${iso(r.start)}, ${iso(r.end)})`, '');
    const metrics = Object.keys(r.counts);
    const levels: readonly string[] = LOG_LEVELS;
    const isLog = metrics.length > 0 && metrics.every((m) => levels.includes(m));
    const rows = isLog ? levels.map((l) => [l, r.counts[l] ?? 0] as const) : Object.entries(r.counts).sort();
    out.push(isLog ? 'Lines per level:' : 'Readings per metric:');
    const width = Math.max(...rows.map(([m]) => m.length));
    for (const [m, n] of rows) out.push(`  ${m.padEnd(width)}  ${String(n).padStart(6)}`);
    if (r.lines.length > 0) {
      out.push('', `${a.metric} lines (${r.lines.length + r.linesOmitted}):`);
      for (const line of r.lines) out.push(...line.split('\n').map((l) => `  ${l}`));
      if (r.linesOmitted > 0) out.push(`  … and ${r.linesOmitted} more not kept (exemplars.max)`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A file name for an alert's report: time, source, rule, state and the id's start, all safe. */
export function reportFileName(a: Alert): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  const when = iso(a.ts).replace(/[:.]/g, '-');
  return `${when}_${safe(a.sensorId)}_${safe(a.ruleId)}_${a.state}_${a.id.slice(0, 12)}.txt`;
}

/**
 * Standing alerts (a sink that keeps firing alerts standing by sending them again, as Alertmanager
 * wants): the latest state of each rule and sensor, whichever node delivered it. One state replaces
 * another only if it ranks at least as high, so an old delivery retried late, or a resend racing a
 * resolve, never brings a resolved alert back. The rank orders an episode's states: a later episode
 * (its start), then resolved over firing, then a later report of the same episode.
 */
export function standingKey(a: Alert): string {
  return `${a.ruleId}\u0000${a.sensorId}`;
}

export function standingRank(a: Alert): readonly [number, number, number] {
  return [a.startedAt, a.state === 'resolved' ? 1 : 0, a.ts];
}

/** Whether a state of rank `next` may replace one of rank `stored` (equal: a repeat, taken again). */
export function outranks(next: readonly number[], stored: readonly number[]): boolean {
  for (let i = 0; i < Math.max(next.length, stored.length); i++) {
    const a = next[i] ?? 0;
    const b = stored[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}
