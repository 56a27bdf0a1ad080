import { z } from 'zod';
import { compileLogPattern, DEFAULT_LOG_PATTERN, parseUtcOffset } from '../../core/log-sources/pattern.js';
import { identifier, positiveDuration, uniqueIds } from './common.js';
import { LOG_PIPELINE_DEFAULTS, LOG_WINDOWS, pipelineSchema } from './pipeline.js';

const logSource = z
  .object({
    /** The key of the source's lines on vigil.logs, and its "sensor" id in windows and alerts. */
    id: identifier,
    dir: z.string().min(1),
    glob: z.string().min(1).default('*.log'),
    /** A logback layout pattern (see src/core/log-sources/pattern.ts). */
    pattern: z.string().min(1).default(DEFAULT_LOG_PATTERN),
    /** The zone the log's times are written in: UTC or an offset such as +02:00. */
    timezone: z
      .string()
      .refine((t) => parseUtcOffset(t) !== undefined, 'must be UTC or an offset such as +02:00')
      .default('UTC'),
  })
  .strict()
  .superRefine((src, ctx) => {
    try {
      compileLogPattern(src.pattern);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: (err as Error).message });
    }
  })
  .transform(({ timezone, ...s }) => ({
    ...s,
    /** Minutes east of UTC the log's times are written in. */
    utcOffsetMinutes: parseUtcOffset(timezone) ?? 0,
  }));

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
    /** Longer lines are cut there and go to vigil.dlq. */
    maxLineBytes: z.number().int().min(256).max(1_048_576).default(65_536),
    pipeline: pipelineSchema(LOG_PIPELINE_DEFAULTS).prefault({ windows: LOG_WINDOWS }),
  })
  .strict()
  .prefault({})
  .transform(({ pollInterval, lease, ...l }) => ({ ...l, pollIntervalMs: pollInterval, leaseMs: lease }));
