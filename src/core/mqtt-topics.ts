import type { PayloadFormat } from './payloads/index.js';

/**
 * What the MQTT bridge subscribes to, and what a message's topic says: the topic filters of
 * `mqtt.topics`, each a filter (`sensors/+/readings`, whose one `+` level is the sensor id of a payload
 * that names none) or a template (`site/{sensorId}/data`: subscribed as `site/+/data`, the sensor id
 * at `{sensorId}`), with the payload format pinned or detected.
 */
export interface TopicSpec {
  /** What the bridge subscribes to (MQTT filter syntax). */
  readonly filter: string;
  /** The level holding the sensor id, if any. */
  readonly idLevel: number | undefined;
  readonly format: PayloadFormat;
}

const TEMPLATE = '{sensorId}';

/** A topic entry of the config as a spec, or why it cannot be one. */
export function compileTopic(entry: string, format: PayloadFormat = 'auto'): TopicSpec | string {
  const levels = entry.split('/');
  const templated = levels.flatMap((l, i) => (l === TEMPLATE ? [i] : []));
  if (levels.some((l) => l !== TEMPLATE && l.includes('{')))
    return `"${entry}": the only placeholder a topic may hold is a whole level ${TEMPLATE}`;
  const hash = levels.indexOf('#');
  if (hash >= 0 && hash !== levels.length - 1) return `"${entry}": # may only be the last level`;
  if (levels.some((l) => l !== '+' && l !== '#' && /[+#]/.test(l)))
    return `"${entry}": + and # stand for whole levels`;
  if (templated.length > 1) return `"${entry}": ${TEMPLATE} may appear once`;
  const filter = levels.map((l) => (l === TEMPLATE ? '+' : l)).join('/');
  const plus = levels.flatMap((l, i) => (l === '+' ? [i] : []));
  const idLevel = templated[0] ?? (plus.length === 1 ? plus[0] : undefined);
  return { filter, idLevel, format };
}

/** Whether `topic` matches the MQTT filter `filter` (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The spec a message's topic came through (the first that matches), and the sensor id it names. */
export function readTopic(
  specs: readonly TopicSpec[],
  topic: string,
): { spec: TopicSpec | undefined; sensorId: string | undefined } {
  const spec = specs.find((s) => topicMatches(s.filter, topic));
  if (spec?.idLevel === undefined) return { spec, sensorId: undefined };
  const level = topic.split('/')[spec.idLevel];
  return { spec, sensorId: level === undefined || level === '' ? undefined : level };
}
