import { parseInstant } from '../instant.js';
import type { Reading } from '../reading.js';
import { setMetric, type JsonFieldNames, type PayloadContext } from './common.js';

/**
 * One parsed JSON value as a reading, or why it is none. Vigil's shape holds its metrics in `values`;
 * a flat object has them as its own numeric fields, the id, time and seq fields aside (fields that are
 * not numbers, such as a unit or a nested object, are not metrics and are passed over).
 *
 * The sensor is the first id field present (a string, or a whole number), else the context's; the time
 * the first time field present (epoch milliseconds, or an ISO 8601 / RFC 3339 string, UTC unless it
 * has an offset), else when it was received.
 */
export function jsonReading(v: unknown, f: JsonFieldNames, ctx: PayloadContext): Reading | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return 'a reading is a JSON object (an array is read as a SenML pack)';
  const o = v as Record<string, unknown>;
  // Every field's problem is told at once, as a schema validator would.
  const problems: string[] = [];
  const sensorId = idOf(o, f, ctx, problems);
  const ts = timeOf(o, f, ctx, problems);
  const s = first(o, f.seq);
  let seq: number | undefined;
  if (s !== undefined) {
    const [name, x] = s;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      problems.push(`${name}: must be a whole number from 0 on`);
    else seq = x;
  }
  const values: Record<string, number> = {};
  const nested = o['values'];
  if (nested !== undefined) {
    if (typeof nested !== 'object' || nested === null || Array.isArray(nested))
      problems.push('values: must be an object of metric names and numbers');
    else
      for (const [name, x] of Object.entries(nested as Record<string, unknown>)) {
        const refused =
          typeof x === 'number' ? setMetric(values, name, x) : `values.${name}: must be a finite number`;
        if (refused === undefined) continue;
        problems.push(refused);
        break;
      }
  } else {
    const named = new Set([...f.id, ...f.time, ...f.seq]);
    for (const [name, x] of Object.entries(o)) {
      if (typeof x !== 'number' || named.has(name)) continue;
      const refused = setMetric(values, name, x);
      if (refused === undefined) continue;
      problems.push(refused);
      break;
    }
  }
  if (problems.length > 0 || sensorId === undefined || ts === undefined) {
    if (Object.keys(values).length === 0 && !problems.some((p) => p.startsWith('values')))
      problems.push('values: must hold at least one metric');
    return problems.join('; ');
  }
  return seq === undefined ? { sensorId, ts, values } : { sensorId, ts, values, seq };
}

/** The sensor: the first id field present (a string, or a whole number), else the context's. */
function idOf(
  o: Record<string, unknown>,
  f: JsonFieldNames,
  ctx: PayloadContext,
  problems: string[],
): string | undefined {
  const id = first(o, f.id);
  if (id === undefined) {
    if (ctx.sensorId === undefined)
      problems.push(
        `no sensor id: none of the fields ${f.id.join(', ')}, and no MQTT topic or record key names one`,
      );
    return ctx.sensorId;
  }
  const [name, x] = id;
  if (typeof x === 'string' && x !== '') return x;
  if (typeof x === 'number' && Number.isSafeInteger(x)) return String(x);
  problems.push(`${name}: must be a non-empty string`);
  return undefined;
}

/** The event time: the first time field present, else when the payload was received. */
function timeOf(
  o: Record<string, unknown>,
  f: JsonFieldNames,
  ctx: PayloadContext,
  problems: string[],
): number | undefined {
  const t = first(o, f.time);
  if (t === undefined) {
    if (ctx.receivedAt === undefined) problems.push(`no time: none of the fields ${f.time.join(', ')}`);
    return ctx.receivedAt;
  }
  const [name, x] = t;
  const ts = typeof x === 'number' || typeof x === 'string' ? parseInstant(x, 9) : undefined;
  if (ts === undefined)
    problems.push(
      `${name}: ${JSON.stringify(x).slice(0, 64)} is not epoch milliseconds or an ISO 8601 time (2026-11-23T15:12:00.123Z)`,
    );
  return ts;
}

/** The first of `names` the object has, with its value. */
function first(o: Record<string, unknown>, names: readonly string[]): [string, unknown] | undefined {
  for (const name of names) if (Object.prototype.hasOwnProperty.call(o, name)) return [name, o[name]];
  return undefined;
}
