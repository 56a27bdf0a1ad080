import { z } from 'zod';
import { compileFileNamePattern } from '../../core/log-sources/dates.js';
import {
  compileLayout,
  DEFAULT_JSON_FIELDS,
  DEFAULT_PATTERNS,
  LAYOUTS,
  type JsonFields,
} from '../../core/log-sources/layouts.js';
import { parseTimeZone } from '../../core/log-sources/zone.js';
import { identifier, positiveDuration, uniqueIds } from './common.js';
import { LOG_PIPELINE_DEFAULTS, LOG_WINDOWS, pipelineSchema, type PipelineSettings } from './pipeline.js';

const fieldNames = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === 'string' ? [v] : v));

/** JSON lines: which fields hold the time, level, message, logger and thread (the first present wins). */
const jsonFields = z
  .object({
    time: fieldNames.optional(),
    level: fieldNames.optional(),
    message: fieldNames.optional(),
    logger: fieldNames.optional(),
    thread: fieldNames.optional(),
  })
  .strict()
  .transform((j): JsonFields => ({
    ...DEFAULT_JSON_FIELDS,
    ...Object.fromEntries(Object.entries(j).filter(([, v]) => v !== undefined)),
  }));

const logSource = z
  .object({
    /** The key of the source's lines on vigil.logs, and its "sensor" id in windows and alerts. */
    id: identifier,
    dir: z.string().min(1),
    glob: z.string().min(1).default('*.log'),
    /** logback (default), log4j2, python or json: the syntax of `pattern` (src/core/log-sources/layouts.ts). */
    layout: z.enum(LAYOUTS).default('logback'),
    /** The layout pattern, as in the application's logging config; default: the layout's own default. */
    pattern: z.string().min(1).optional(),
    /** python: asctime's strftime format (logging's `datefmt`). */
    dateFormat: z.string().min(1).optional(),
    /** json: field names. */
    json: jsonFields.optional(),
    /** UTC, an offset such as +02:00, or an IANA zone such as Europe/Paris: the zone lines are written in. */
    timezone: z
      .string()
      .refine(
        (t) => parseTimeZone(t) !== undefined,
        'must be UTC, an offset such as +02:00, or a zone such as Europe/Paris',
      )
      .default('UTC'),
    /** Rolled files' names, as logback's fileNamePattern (`app.%d{yyyy-MM-dd}.%i.log`): their date. */
    fileNamePattern: z.string().min(1).optional(),
    /**
     * Where a line with a time of day only gets its date: `name` from a rolled file's name (by
     * fileNamePattern) and otherwise from the file's modification time; `modified` always from the
     * modification time.
     */
    dateFrom: z.enum(['name', 'modified']).default('name'),
  })
  .strict()
  .superRefine((src, ctx) => {
    try {
      compileLayout({
        layout: src.layout,
        pattern: src.pattern ?? DEFAULT_PATTERNS[src.layout],
        dateFormat: src.dateFormat,
        json: src.json,
      });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: (err as Error).message });
    }
    if (src.fileNamePattern !== undefined) {
      try {
        compileFileNamePattern(src.fileNamePattern);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['fileNamePattern'], message: (err as Error).message });
      }
    }
  })
  .transform((s) => ({ ...s, pattern: s.pattern ?? DEFAULT_PATTERNS[s.layout] }));

/** The longest window of a pipeline plus its allowed lateness: how far past a line its windows reach. */
function windowReach(p: PipelineSettings): number {
  const spans = p.windows.map((w) => (w.kind === 'session' ? w.gapMs : w.sizeMs));
  return Math.max(0, ...spans) + p.window.allowedLatenessMs;
}

export const logsSchema = z
  .object({
    /** Consume vigil.logs (log records from fetchers or from producers of their own). */
    enabled: z.boolean().default(true),
    /** Directories tailed by fetcher actors; one node at a time fetches each (a lease in Redis). */
    sources: z.array(logSource).default([]).superRefine(uniqueIds('source')),
    /** How often a fetcher looks for new lines. */
    pollInterval: positiveDuration.default(250),
    /** A dead node's sources move after this. */
    lease: positiveDuration.default(10_000),
    /**
     * A record's continuation lines (a stack trace) written within this of its last line join it, as
     * Filebeat's multiline.timeout: a logger that flushes a trace in two writes still gives one record.
     * Lines later than that are dead letters with the reason (they follow no record), never dropped.
     */
    multilineTimeout: positiveDuration.default(5_000),
    /** Longer lines are cut there (the record keeps their start, with a note). */
    maxLineBytes: z.number().int().min(256).max(1_048_576).default(65_536),
    /**
     * A source with no new line for this long (wall clock) closes its windows: a finished file reports
     * its last minute. Default, and least: the log pipeline's longest window plus its allowed lateness.
     */
    idleTimeout: positiveDuration.optional(),
    pipeline: pipelineSchema(LOG_PIPELINE_DEFAULTS).prefault({ windows: LOG_WINDOWS }),
  })
  .strict()
  .prefault({})
  .superRefine((l, ctx) => {
    const reach = windowReach(l.pipeline);
    if (l.idleTimeout !== undefined && l.idleTimeout < reach)
      ctx.addIssue({
        code: 'custom',
        path: ['idleTimeout'],
        message: `must be at least the longest log window plus its allowed lateness (${reach} ms): a shorter one would make later lines late`,
      });
  })
  .transform(({ pollInterval, lease, idleTimeout, multilineTimeout, ...l }) => ({
    ...l,
    pollIntervalMs: pollInterval,
    multilineTimeoutMs: multilineTimeout,
    leaseMs: lease,
    idleTimeoutMs: idleTimeout ?? windowReach(l.pipeline),
  }));
