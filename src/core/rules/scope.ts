import { idGlob } from '../glob.js';
import type { Rule } from './types.js';

/** A sensor's labels (`readings.sensorLabels`): what rules' `sensorLabels` select by. */
export type SensorLabels = Readonly<Record<string, string>>;

export const NO_LABELS: SensorLabels = Object.freeze({});

/** Compiled `sensors` globs per rule: a rule is judged against many sensors, its globs built once. */
const matchers = new WeakMap<Rule, (sensorId: string) => boolean>();

function idMatcher(rule: Rule, sensors: readonly string[]): (sensorId: string) => boolean {
  let m = matchers.get(rule);
  if (m === undefined) {
    const globs = sensors.map(idGlob);
    m = (id) => globs.some((g) => g(id));
    matchers.set(rule, m);
  }
  return m;
}

/** Whether `rule` judges this sensor: its id matches one of `sensors`, and it carries every `sensorLabels`. */
export function judges(rule: Rule, sensorId: string, labels: SensorLabels): boolean {
  if (rule.sensors !== undefined && !idMatcher(rule, rule.sensors)(sensorId)) return false;
  if (rule.sensorLabels !== undefined)
    for (const [k, v] of Object.entries(rule.sensorLabels)) if (labels[k] !== v) return false;
  return true;
}

/**
 * The rules that judge one sensor, each as it judges that sensor (its override, where it has one).
 * The list itself when every rule judges it unchanged: sensors of a pipeline without scoped rules
 * share one list.
 */
export function rulesFor(rules: readonly Rule[], sensorId: string, labels: SensorLabels): readonly Rule[] {
  let out: Rule[] | undefined;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const own = judges(rule, sensorId, labels) ? (rule.overrides?.[sensorId] ?? rule) : undefined;
    if (own === rule && out === undefined) continue;
    out ??= rules.slice(0, i);
    if (own !== undefined) out.push(own);
  }
  return out ?? rules;
}

/**
 * The rules that judge one sensor, read from the pipeline's list `all` on every use and resolved
 * again only when that list is replaced (at run time, by `vigil rules set`).
 */
export function judgedBy(
  sensorId: string,
  all: () => readonly Rule[],
  labels: (sensorId: string) => SensorLabels = () => NO_LABELS,
): () => readonly Rule[] {
  let of: readonly Rule[] | undefined;
  let judged: readonly Rule[] = [];
  return () => {
    const current = all();
    if (current !== of) {
      of = current;
      judged = rulesFor(current, sensorId, labels(sensorId));
    }
    return judged;
  };
}

/**
 * A sensor's labels from `readings.sensorLabels`: every entry whose `sensors` globs match its id
 * adds its labels, a later entry's winning.
 */
export function sensorLabeler(
  entries: readonly { readonly sensors: readonly string[]; readonly labels: SensorLabels }[],
): (sensorId: string) => SensorLabels {
  if (entries.length === 0) return () => NO_LABELS;
  const compiled = entries.map((e) => ({ match: e.sensors.map(idGlob), labels: e.labels }));
  return (sensorId) => {
    let out: Record<string, string> | undefined;
    for (const e of compiled) if (e.match.some((m) => m(sensorId))) out = { ...out, ...e.labels };
    return out ?? NO_LABELS;
  };
}
