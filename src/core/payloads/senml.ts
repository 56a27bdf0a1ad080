import { describeJsonError } from '../json-error.js';
import type { Reading } from '../reading.js';
import { setMetric, type DecodedPayload, type PayloadContext } from './common.js';

/** RFC 8428 §4.5.3: a resolved time below 2^28 seconds is relative to now (when it was received). */
const RELATIVE_BELOW_S = 2 ** 28;

/**
 * A SenML pack (RFC 8428, JSON) as readings. Base fields (`bn`, `bt`, `bv`) hold from their record
 * until the next one that sets them. A record's sensor is its base name with a trailing `:`, `/` or
 * `.` dropped (the payload's context when there is no base name); its metric is its name `n`, with
 * `v` (plus `bv`) or `vb` (1 or 0) as value; its time is `bt` + `t` in seconds. A record without a
 * name whose base name is the whole name (`"bn": "dev-7:temp"`) names its sensor and metric by the
 * last separator. Records of one sensor at one time are one reading; string and data values (`vs`,
 * `vd`) are not metrics and are passed over.
 */
export function senmlReadings(text: string, ctx: PayloadContext): DecodedPayload {
  let pack: unknown;
  try {
    pack = JSON.parse(text);
  } catch {
    return { readings: [], errors: [`senml: ${describeJsonError(text)}`] };
  }
  if (!Array.isArray(pack)) return { readings: [], errors: ['senml: a pack is a JSON array of records'] };
  const byKey = new Map<string, Reading & { values: Record<string, number> }>();
  const errors: string[] = [];
  const base = { bn: '', bt: 0, bv: 0 };
  pack.forEach((rec: unknown, i) => {
    const error = takeRecord(rec, base, byKey, ctx);
    if (error !== undefined) errors.push(`senml: record ${i + 1}: ${error}`);
  });
  return { readings: [...byKey.values()], errors };
}

/** Reads one record into the readings by sensor and time; the base fields it sets hold from here on. */
function takeRecord(
  rec: unknown,
  base: { bn: string; bt: number; bv: number },
  byKey: Map<string, Reading & { values: Record<string, number> }>,
  ctx: PayloadContext,
): string | undefined {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'not an object';
  const r = rec as Record<string, unknown>;
  if (r['bn'] !== undefined) {
    if (typeof r['bn'] !== 'string') return 'bn must be a string';
    base.bn = r['bn'];
  }
  if (r['bt'] !== undefined) {
    if (!isFiniteNumber(r['bt'])) return 'bt must be a number of seconds';
    base.bt = r['bt'];
  }
  if (r['bv'] !== undefined) {
    if (!isFiniteNumber(r['bv'])) return 'bv must be a number';
    base.bv = r['bv'];
  }
  const value = valueOf(r, base.bv);
  if (value === 'v') return 'v must be a number';
  if (value === 'vb') return 'vb must be true or false';
  if (value === undefined) return undefined; // base fields only, or a string or data value
  const n = r['n'] ?? '';
  if (typeof n !== 'string') return 'n must be a string';
  const named = nameOf(base.bn, n, ctx.sensorId);
  if (typeof named === 'string') return named;
  const t = r['t'] ?? 0;
  if (!isFiniteNumber(t)) return 't must be a number of seconds';
  const seconds = base.bt + t;
  let ts: number;
  if (Math.abs(seconds) >= RELATIVE_BELOW_S) ts = Math.round(seconds * 1000);
  else if (ctx.receivedAt !== undefined) ts = ctx.receivedAt + Math.round(seconds * 1000);
  else return `its time ${seconds} s is relative to when it was received, which is not known`;
  const key = `${named.sensorId}\u0000${ts}`;
  let reading = byKey.get(key);
  if (reading === undefined) {
    reading = { sensorId: named.sensorId, ts, values: {} };
    byKey.set(key, reading);
  }
  return setMetric(reading.values, named.metric, value);
}

const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The record's value, undefined when it has none that is a number, or the field that is wrong. */
function valueOf(r: Record<string, unknown>, bv: number): number | undefined | 'v' | 'vb' {
  if (r['v'] !== undefined) return isFiniteNumber(r['v']) ? bv + r['v'] : 'v';
  if (r['vb'] !== undefined) return typeof r['vb'] === 'boolean' ? (r['vb'] ? 1 : 0) : 'vb';
  return undefined;
}

const SEPARATOR = /[:/.]/;

/** Sensor and metric of a record: the base name and the record's name (see senmlReadings). */
function nameOf(
  bn: string,
  n: string,
  fallback: string | undefined,
): { sensorId: string; metric: string } | string {
  if (n !== '') {
    const sensorId = bn.replace(/[:/.]$/, '') || fallback;
    if (sensorId === undefined)
      return 'no sensor id: no base name (bn), and no MQTT topic or record key names one';
    return { sensorId, metric: n };
  }
  let cut = -1;
  for (let i = bn.length - 1; i > 0; i--)
    if (SEPARATOR.test(bn[i] as string)) {
      cut = i;
      break;
    }
  if (cut <= 0 || cut === bn.length - 1)
    return 'no name: neither n nor a base name of the form <sensor>:<metric>';
  return { sensorId: bn.slice(0, cut), metric: bn.slice(cut + 1) };
}
