import { z } from 'zod';
import { describeIssues, parseJsonValue, type DecodeResult, type Reading } from './reading.js';

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
});

/** Parses and validates one raw log record. Never throws: a bad record comes back with its reason. */
export function decodeLogRecord(raw: Buffer | string | null | undefined): DecodeResult<LogRecord> {
  const json = parseJsonValue(raw);
  if (!json.ok) return json;
  const parsed = logRecordSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `invalid log record: ${describeIssues(parsed.error)}` };
  const { thread, logger, line, file, offset, ...rest } = parsed.data;
  return {
    ok: true,
    value: {
      ...rest,
      ...(thread === undefined ? {} : { thread }),
      ...(logger === undefined ? {} : { logger }),
      ...(line === undefined ? {} : { line }),
      ...(file === undefined ? {} : { file }),
      ...(offset === undefined ? {} : { offset }),
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
export function decodeLogReading(raw: Buffer | string | null | undefined): DecodeResult<Reading> {
  const decoded = decodeLogRecord(raw);
  return decoded.ok ? { ok: true, value: logRecordAsReading(decoded.value) } : decoded;
}
