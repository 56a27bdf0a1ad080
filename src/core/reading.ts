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

const readingSchema = z.object({
  sensorId: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
  ts: z
    .number()
    .int('must be an integer (epoch milliseconds)')
    .min(0, 'must not be negative')
    .max(8_640_000_000_000_000, 'is beyond the last representable date'),
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

/** Parses and validates one raw record value. Never throws: a bad record comes back with its reason. */
export function decodeReading(raw: Buffer | string | null | undefined): DecodeResult<Reading> {
  const json = parseJsonValue(raw);
  if (!json.ok) return json;
  const parsed = readingSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `invalid reading: ${describeIssues(parsed.error)}` };
  const { sensorId, ts, values, seq } = parsed.data;
  return { ok: true, value: seq === undefined ? { sensorId, ts, values } : { sensorId, ts, values, seq } };
}
