import { z } from 'zod';
import {
  DEFAULT_READING_LIMITS,
  describeIssues,
  parseJsonValue,
  type DecodeResult,
  type Reading,
  type ReadingLimits,
} from './reading.js';
import { controlOf, type RecordDecoder } from './router.js';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A parsed log line as it travels on vigil.logs (JSON, key = source):
 *   { "source": "billing", "ts": 1732350000123, "level": "ERROR", "thread": "main",
 *     "logger": "c.e.Billing", "message": "payment failed", "line": "15:12:01.123 [main] ERROR ..." }
 */
export interface LogRecord {
  readonly source: string;
  readonly ts: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly thread?: string;
  readonly logger?: string;
  /** The raw line (with its continuation lines), for reports. */
  readonly line?: string;
  /** The file it was read from (its name when read) and the byte offset of its first line. */
  readonly file?: string;
  readonly offset?: number;
  /** Why the line is shorter than what was written (cut at logs.maxLineBytes). */
  readonly note?: string;
}

const logRecordSchema = z.object({
  source: z.string().min(1, 'must not be empty').max(256),
  ts: z.number().int('must be an integer (epoch milliseconds)').min(0, 'must not be negative'),
  level: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }),
  message: z.string(),
  thread: z.string().optional(),
  logger: z.string().optional(),
  line: z.string().max(1_048_576, 'is longer than 1 MiB').optional(),
  file: z.string().optional(),
  offset: z.number().int().min(0).optional(),
  note: z.string().max(1_000).optional(),
});

/** Parses and validates one raw log record. Never throws: a bad record comes back with its reason. */
export function decodeLogRecord(
  raw: Buffer | string | null | undefined,
  limits: ReadingLimits = DEFAULT_READING_LIMITS,
): DecodeResult<LogRecord> {
  const size =
    raw === null || raw === undefined ? 0 : typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxRecordBytes)
    return {
      ok: false,
      reason: `record of ${size} bytes is over limits.maxRecordBytes (${limits.maxRecordBytes})`,
    };
  const json = parseJsonValue(raw);
  if (!json.ok) return json;
  const parsed = logRecordSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `invalid log record: ${describeIssues(parsed.error)}` };
  if (parsed.data.source.length > limits.maxSensorIdLength)
    return {
      ok: false,
      reason: `invalid log record: source: ${parsed.data.source.length} characters, over limits.maxSensorIdLength (${limits.maxSensorIdLength})`,
    };
  const { thread, logger, line, file, offset, note, ...rest } = parsed.data;
  return {
    ok: true,
    value: {
      ...rest,
      ...(thread === undefined ? {} : { thread }),
      ...(logger === undefined ? {} : { logger }),
      ...(line === undefined ? {} : { line }),
      ...(file === undefined ? {} : { file }),
      ...(offset === undefined ? {} : { offset }),
      ...(note === undefined ? {} : { note }),
    },
  };
}

/**
 * A log line as a reading of its source: one count of its level. So a log source runs through the
 * same windows and rules as a sensor, and "more than N ERROR lines in 60 s" is a count rule on the
 * ERROR metric of a 60-second window.
 */
export function logRecordAsReading(r: LogRecord): Reading {
  return { sensorId: r.source, ts: r.ts, values: { [r.level]: 1 }, text: r.line ?? r.message };
}

/** A vigil.logs record as the engine reads it: a reading of its source, or why it is not one. */
export function decodeLogReading(
  raw: Buffer | string | null | undefined,
  limits: ReadingLimits = DEFAULT_READING_LIMITS,
): DecodeResult<Reading> {
  const decoded = decodeLogRecord(raw, limits);
  return decoded.ok ? { ok: true, value: logRecordAsReading(decoded.value) } : decoded;
}

/**
 * A log source's idle mark, written by its fetcher (in the same transaction-with-checkpoint as its
 * lines) when the source has written nothing for `logs.idleTimeout` of wall clock:
 *   key = source, header vigil-control: idle, value {"source": "billing", "idleAt": 1732350060123}
 * `idleAt` is event time: the source's last line's time plus the idle time that passed. The engine
 * turns it into an idle tick of that source, so its open windows close (a finished file reports its
 * last minute) at a fixed point of the log: a replay closes them at the same record.
 */
export interface IdleMark {
  readonly source: string;
  readonly idleAt: number;
}

export const IDLE_CONTROL = 'idle';

export function encodeIdleMark(m: IdleMark): string {
  return JSON.stringify(m);
}

/** The vigil.logs decoder: log records, idle marks; other control records are skipped. */
export const logsDecoder =
  (limits: ReadingLimits = DEFAULT_READING_LIMITS): RecordDecoder =>
  (record) => {
    const control = controlOf(record);
    if (control === undefined) {
      const d = decodeLogReading(record.value, limits);
      return d.ok
        ? { kind: 'readings', readings: [d.value], errors: [] }
        : { kind: 'invalid', reason: d.reason };
    }
    if (control !== IDLE_CONTROL) return { kind: 'skip' };
    const json = parseJsonValue(record.value);
    const m = json.ok ? (json.value as Partial<IdleMark> | null) : null;
    if (
      typeof m?.source !== 'string' ||
      m.source.length === 0 ||
      m.source.length > 256 ||
      typeof m.idleAt !== 'number' ||
      !Number.isSafeInteger(m.idleAt) ||
      m.idleAt < 0
    )
      return { kind: 'invalid', reason: 'invalid idle mark: needs {"source": <id>, "idleAt": <epoch ms>}' };
    return { kind: 'idle', sensorId: m.source, ts: m.idleAt };
  };
