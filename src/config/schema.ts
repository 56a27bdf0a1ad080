import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(value)}" is not a duration (use e.g. 500ms, 10s, 5m, 1h)`,
    });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, 'must be longer than 0');
const identifier = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/,
    'use letters, digits and _ . : - (starting with a letter or digit)',
  );
const partitions = z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000);

const tumblingWindow = z
  .object({
    kind: z.literal('tumbling'),
    size: positiveDuration,
    name: identifier.optional(),
  })
  .strict();

const thresholdRule = z
  .object({
    id: identifier,
    kind: z.literal('threshold'),
    metric: z.string().min(1),
    above: z.number().optional(),
    below: z.number().optional(),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .refine(
    (r) => r.above !== undefined || r.below !== undefined,
    'a threshold rule needs `above`, `below` or both',
  )
  .refine(
    (r) => r.above === undefined || r.below === undefined || r.below < r.above,
    '`below` must be lower than `above`',
  );

export const configSchema = z
  .object({
    node: z.object({ id: identifier.optional() }).strict().default({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
    kafka: z
      .object({
        brokers: z
          .array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port'))
          .min(1)
          .default(['127.0.0.1:9092']),
        clientId: identifier.default('vigil'),
        groupId: identifier.default('vigil-engine'),
        /** Prepended to every topic name; tests use a unique one per run. */
        topicPrefix: z
          .string()
          .regex(/^[A-Za-z0-9._-]*$/, 'use letters, digits and . _ -')
          .default(''),
        partitions: z
          .object({
            readings: partitions.default(6),
            logs: partitions.default(6),
            alerts: partitions.default(6),
            aggregates: partitions.default(6),
            dlq: partitions.default(1),
            late: partitions.default(1),
          })
          .strict()
          .default({ readings: 6, logs: 6, alerts: 6, aggregates: 6, dlq: 1, late: 1 }),
        sessionTimeout: positiveDuration.default(10_000),
      })
      .strict()
      .default({
        brokers: ['127.0.0.1:9092'],
        clientId: 'vigil',
        groupId: 'vigil-engine',
        topicPrefix: '',
        partitions: { readings: 6, logs: 6, alerts: 6, aggregates: 6, dlq: 1, late: 1 },
        sessionTimeout: 10_000,
      }),
    pipeline: z
      .object({
        outOfOrderness: duration.default(0),
        windows: z.array(tumblingWindow).min(1, 'at least one window is needed'),
        metrics: z.array(z.string().min(1)).min(1).optional(),
        rules: z.array(thresholdRule).default([]),
      })
      .strict()
      .superRefine((p, ctx) => {
        const seen = new Set<string>();
        p.rules.forEach((rule, i) => {
          if (seen.has(rule.id))
            ctx.addIssue({
              code: 'custom',
              path: ['rules', i, 'id'],
              message: `duplicate rule id "${rule.id}"`,
            });
          seen.add(rule.id);
        });
      }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
