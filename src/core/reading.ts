import { z } from 'zod';

/**
 * A sensor reading as it travels on vigil.readings (JSON, key = sensorId):
 *   { "sensorId": "st-17", "ts": 1732350000123, "values": { "temperature": 24.9 }, "seq": 42 }
 * `ts` is the event time in epoch milliseconds; `seq` is the sensor's own optional sequence number.
 */
export interface Reading {
  readonly sensorId: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
  readonly seq?: number;
  /**
   * Raw text behind the reading (a log line), kept as an exemplar by windows configured to keep some
   * (`pipeline.exemplars`). Never part of a sensor's JSON reading.
   */
  readonly text?: string;
}

const MAX_TS = 8_640_000_000_000_000;

/**
 * What one reading may hold (config `limits`): nothing a producer sends can make a sensor's state or
 * its outputs grow without bound. A reading over a limit is a dead letter with the limit's name.
 */
export interface ReadingLimits {
  /** Bytes of one record's value. */
  readonly maxRecordBytes: number;
  readonly maxMetrics: number;
  readonly maxMetricNameLength: number;
  readonly maxSensorIdLength: number;
  /**
   * The largest magnitude a value may have. Window aggregates square differences of values (variance)
   * and sum them: beyond about 1e150 they overflow to Infinity, which JSON writes as null. No physical
   * measurement comes near the default (1e100).
   */
  readonly maxAbsValue: number;
}

export const DEFAULT_READING_LIMITS: ReadingLimits = {
  maxRecordBytes: 262_144,
  maxMetrics: 64,
  maxMetricNameLength: 128,
  maxSensorIdLength: 256,
  maxAbsValue: 1e100,
};

const readingSchema = z.object({
  sensorId: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
  ts: z
    .number()
    .int('must be an integer (epoch milliseconds)')
    .min(0, 'must not be negative')
    .max(MAX_TS, 'is beyond the last representable date'),
  values: z
    .record(z.string().min(1, 'metric names must not be empty'), z.number('must be a finite number'))
    .refine((v) => Object.keys(v).length > 0, 'must hold at least one metric'),
  seq: z.number().int().min(0).optional(),
});

export type DecodeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Formats the first few schema issues as `path: message` sentences. */
export function describeIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const path = issue.path.length === 0 ? '(record)' : issue.path.map(String).join('.');
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '';
  return parts.join('; ') + more;
}

/** The JSON of one raw record value, or why there is none. */
export function parseJsonValue(raw: Buffer | string | null | undefined): DecodeResult<unknown> {
  if (raw === null || raw === undefined || raw.length === 0)
    return { ok: false, reason: 'empty record value' };
  try {
    return { ok: true, value: JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: `not valid JSON: ${(err as Error).message}` };
  }
}

/**
 * The common case without zod: a reading that plainly meets the schema (checked field by field, as
 * strictly as `readingSchema` or more so) comes back as the reading the schema would give, with no
 * copy of its values. Anything else, valid or not, is left to the schema (undefined), which accepts
 * it or says precisely why not. zod's safeParse was 6 % of a node's CPU at 25,000 readings/s, this
 * is a few typeofs; test/unit/reading.test.ts checks on generated input that both agree.
 */
export function plainReading(
  v: unknown,
  limits: ReadingLimits = DEFAULT_READING_LIMITS,
): Reading | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const { sensorId, ts, values, seq } = v as Record<string, unknown>;
  if (typeof sensorId !== 'string' || sensorId.length === 0 || sensorId.length > limits.maxSensorIdLength)
    return undefined;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0 || ts > MAX_TS) return undefined;
  if (typeof values !== 'object' || values === null || Object.getPrototypeOf(values) !== Object.prototype)
    return undefined;
  let metrics = 0;
  for (const key in values) {
    const x = (values as Record<string, unknown>)[key];
    if (key.length === 0 || key.length > limits.maxMetricNameLength || key === '__proto__') return undefined;
    if (typeof x !== 'number' || !(Math.abs(x) <= limits.maxAbsValue)) return undefined;
    metrics++;
  }
  if (metrics === 0 || metrics > limits.maxMetrics) return undefined;
  if (seq === undefined) return { sensorId, ts, values: values as Record<string, number> };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { sensorId, ts, values: values as Record<string, number>, seq };
}

/**
 * Parses and validates one raw record value within `limits`. Never throws: a bad record comes back with
 * its reason. A record over `maxRecordBytes` is not parsed at all.
 */
export function decodeReading(
  raw: Buffer | string | null | undefined,
  limits: ReadingLimits = DEFAULT_READING_LIMITS,
): DecodeResult<Reading> {
  const size =
    raw === null || raw === undefined ? 0 : typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxRecordBytes)
    return {
      ok: false,
      reason: `record of ${size} bytes is over limits.maxRecordBytes (${limits.maxRecordBytes})`,
    };
  const json = parseJsonValue(raw);
  if (!json.ok) return json;
  const plain = plainReading(json.value, limits);
  if (plain !== undefined) return { ok: true, value: plain };
  return overLimits(json.value, limits) ?? schemaReading(json.value);
}

/**
 * Why a reading made by a decoder (not parsed from Vigil's own JSON) cannot be taken, or undefined: the
 * checks of the reading schema and of `limits`, in the same words.
 */
export function readingProblem(r: Reading, limits: ReadingLimits): string | undefined {
  if (r.sensorId.length === 0) return 'sensorId: must not be empty';
  if (r.sensorId.length > limits.maxSensorIdLength)
    return `sensorId: ${r.sensorId.length} characters, over limits.maxSensorIdLength (${limits.maxSensorIdLength})`;
  if (!Number.isSafeInteger(r.ts) || r.ts < 0 || r.ts > MAX_TS)
    return `ts: ${r.ts} is not a time from 1970 on, in epoch milliseconds`;
  if (r.seq !== undefined && (!Number.isSafeInteger(r.seq) || r.seq < 0))
    return `seq: ${r.seq} is not a whole number from 0 on`;
  let metrics = 0;
  for (const name in r.values) {
    const x = r.values[name] as number;
    if (name.length === 0) return 'values: metric names must not be empty';
    if (name.length > limits.maxMetricNameLength)
      return `values: a metric name of ${name.length} characters, over limits.maxMetricNameLength (${limits.maxMetricNameLength})`;
    if (!Number.isFinite(x)) return `values.${name}: must be a finite number`;
    if (Math.abs(x) > limits.maxAbsValue)
      return `values.${name}: ${x} is beyond limits.maxAbsValue (${limits.maxAbsValue})`;
    metrics++;
  }
  if (metrics === 0) return 'values: must hold at least one metric';
  if (metrics > limits.maxMetrics)
    return `values: ${metrics} metrics, over limits.maxMetricsPerReading (${limits.maxMetrics})`;
  return undefined;
}

/** The reason a reading breaks a limit (or holds `__proto__`, which no object can keep as a name). */
function overLimits(v: unknown, limits: ReadingLimits): DecodeResult<Reading> | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { sensorId, values } = v as Record<string, unknown>;
  const fail = (reason: string): DecodeResult<Reading> => ({
    ok: false,
    reason: `invalid reading: ${reason}`,
  });
  if (typeof sensorId === 'string' && sensorId.length > limits.maxSensorIdLength)
    return fail(
      `sensorId: ${sensorId.length} characters, over limits.maxSensorIdLength (${limits.maxSensorIdLength})`,
    );
  if (typeof values !== 'object' || values === null) return undefined;
  const names = Object.keys(values);
  if (Object.prototype.hasOwnProperty.call(values, '__proto__'))
    return fail('values: "__proto__" is not allowed as a metric name');
  if (names.length > limits.maxMetrics)
    return fail(`values: ${names.length} metrics, over limits.maxMetricsPerReading (${limits.maxMetrics})`);
  const long = names.find((n) => n.length > limits.maxMetricNameLength);
  if (long !== undefined)
    return fail(
      `values: a metric name of ${long.length} characters, over limits.maxMetricNameLength (${limits.maxMetricNameLength})`,
    );
  const record = values as Record<string, unknown>;
  const huge = names.find((n) => {
    const x = record[n];
    return typeof x === 'number' && Math.abs(x) > limits.maxAbsValue;
  });
  if (huge !== undefined)
    return fail(
      `values.${huge}: ${String(record[huge])} is beyond limits.maxAbsValue (${limits.maxAbsValue})`,
    );
  return undefined;
}

/** Validates a parsed value against the reading schema (zod), with the reason when it is not one. */
export function schemaReading(v: unknown): DecodeResult<Reading> {
  const parsed = readingSchema.safeParse(v);
  if (!parsed.success) return { ok: false, reason: `invalid reading: ${describeIssues(parsed.error)}` };
  const { sensorId, ts, values, seq } = parsed.data;
  return { ok: true, value: seq === undefined ? { sensorId, ts, values } : { sensorId, ts, values, seq } };
}
