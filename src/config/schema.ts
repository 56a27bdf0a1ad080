import { z } from 'zod';
import { AGGREGATES } from '../core/aggregate.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { compileLogPattern, DEFAULT_LOG_PATTERN, parseUtcOffset } from '../core/log-sources/pattern.js';

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
const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
const severity = z.enum(['info', 'warning', 'critical']).default('warning');
const labels = z.record(z.string(), z.string()).default({});

const windowSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tumbling'), size: positiveDuration, name: identifier.optional() }).strict(),
  z
    .object({
      kind: z.literal('sliding'),
      size: positiveDuration,
      slide: positiveDuration,
      name: identifier.optional(),
    })
    .strict()
    .refine((w) => w.slide <= w.size, { message: '`slide` must not be longer than `size`', path: ['slide'] }),
  z.object({ kind: z.literal('session'), gap: positiveDuration, name: identifier.optional() }).strict(),
]);

const ruleBase = { id: identifier, severity, labels };

const ruleSpec = z.discriminatedUnion('kind', [
  z
    .object({
      ...ruleBase,
      kind: z.literal('threshold'),
      metric: z.string().min(1),
      above: z.number().optional(),
      below: z.number().optional(),
      hysteresis: z.number().min(0, 'must not be negative').default(0),
      minDuration: duration.default(0),
    })
    .strict()
    .refine(
      (r) => r.above !== undefined || r.below !== undefined,
      'a threshold rule needs `above`, `below` or both',
    )
    .refine((r) => r.above === undefined || r.below === undefined || r.below < r.above, {
      message: '`below` must be lower than `above`',
      path: ['below'],
    }),
  z
    .object({
      ...ruleBase,
      kind: z.literal('outlier'),
      metric: z.string().min(1),
      zScore: z.number().positive('must be above 0'),
      mean: z.number().optional(),
      stddev: z.number().positive('must be above 0').optional(),
      minSamples: z.number().int().min(2).default(30),
    })
    .strict()
    .refine((r) => (r.mean === undefined) === (r.stddev === undefined), {
      message: 'give both `mean` and `stddev` (a configured distribution) or neither (learned)',
      path: ['mean'],
    }),
  z
    .object({
      ...ruleBase,
      kind: z.literal('rate-of-change'),
      metric: z.string().min(1),
      maxPerSecond: z.number().positive(),
    })
    .strict(),
  z
    .object({
      ...ruleBase,
      kind: z.literal('count'),
      window: identifier,
      metric: z.string().min(1),
      above: z.number().int().min(0),
    })
    .strict(),
  z.object({ ...ruleBase, kind: z.literal('silence'), after: positiveDuration }).strict(),
]);

/**
 * TLS to a service (Kafka, Redis, MQTT): PEM files. `ca` alone verifies the server; `cert` and `key`
 * add a client certificate. Passwords never live in the file: see the VIGIL_*_PASSWORD variables.
 */
const clientTls = z
  .object({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message: '`cert` and `key` go together',
    path: ['cert'],
  });

const kafkaDefaults = {
  brokers: ['127.0.0.1:9092'],
  clientId: 'vigil',
  groupId: 'vigil-engine',
  topicPrefix: '',
  partitions: { readings: 6, logs: 6, alerts: 1 as const, aggregates: 6, dlq: 1, late: 1 },
  sessionTimeout: 6_000,
};

type WindowInput = z.input<typeof windowSpec>;
type RuleInput = z.input<typeof ruleSpec>;

/** What differs between the readings pipeline and the log pipeline: their defaults. */
interface PipelineDefaults {
  /** Unset: `windows` must be given. */
  readonly windows?: WindowInput[];
  readonly metrics?: string[];
  readonly aggregates: (typeof AGGREGATES)[number][];
  readonly rules: RuleInput[];
  readonly dedupeHorizon: number;
  readonly exemplars?: { metrics: string[]; max?: number };
}

/** A pipeline: event time, dedupe, windows, aggregates, rules, rollups (readings, and log sources). */
function pipelineSchema(d: PipelineDefaults) {
  const windows = z.array(windowSpec).min(1, 'at least one window is needed');
  return z
    .object({
      eventTime: z
        .object({
          outOfOrderness: duration.default(0),
          allowedLateness: duration.default(0),
          /** Stream time after a sensor's last reading at which its open windows close anyway. */
          idleTimeout: positiveDuration.optional(),
        })
        .strict()
        .default({ outOfOrderness: 0, allowedLateness: 0 }),
      dedupe: z
        .object({ horizon: duration.default(d.dedupeHorizon) })
        .strict()
        .default({ horizon: d.dedupeHorizon }),
      windows: d.windows === undefined ? windows : windows.prefault(d.windows),
      metrics:
        d.metrics === undefined
          ? z.array(z.string().min(1)).min(1).optional()
          : z.array(z.string().min(1)).min(1).prefault(d.metrics),
      aggregates: z.array(z.enum(AGGREGATES)).min(1).prefault(d.aggregates),
      rules: z.array(ruleSpec).prefault(d.rules),
      /** Keep the texts of readings carrying these metrics (log lines) with their windows. */
      exemplars: z
        .object({
          metrics: z.array(z.string().min(1)).min(1),
          max: z.number().int().min(1).max(10_000).default(100),
        })
        .strict()
        .optional()
        .prefault(d.exemplars),
      rollups: z
        .object({ enabled: z.boolean().default(true), ttl: positiveDuration.default(7 * 86_400_000) })
        .strict()
        .default({ enabled: true, ttl: 7 * 86_400_000 }),
    })
    .strict()
    .superRefine((p, ctx) => {
      const ruleIds = new Set<string>();
      p.rules.forEach((rule, i) => {
        if (ruleIds.has(rule.id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'id'],
            message: `duplicate rule id "${rule.id}"`,
          });
        }
        ruleIds.add(rule.id);
      });
      const windowNames = new Set<string>();
      p.windows.forEach((w, i) => {
        const name = windowName(w);
        if (windowNames.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['windows', i],
            message: `duplicate window "${name}" (give one a \`name\`)`,
          });
        }
        windowNames.add(name);
      });
      p.rules.forEach((rule, i) => {
        if (rule.kind === 'count' && !windowNames.has(rule.window)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'window'],
            message: `no window named "${rule.window}" (windows: ${[...windowNames].join(', ')})`,
          });
        }
      });
    });
}

/** The log pipeline's defaults: per source, lines per level in 60-second windows, > 1 ERROR alerts. */
const LOG_WINDOWS: WindowInput[] = [{ kind: 'tumbling', size: 60_000 }];

export const LOG_PIPELINE_DEFAULTS: PipelineDefaults = {
  windows: LOG_WINDOWS,
  metrics: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'],
  aggregates: ['count'],
  rules: [
    {
      id: 'log-errors',
      kind: 'count',
      window: 'tumbling-1m',
      metric: 'ERROR',
      above: 1,
      severity: 'warning',
    },
  ],
  // Log lines repeat legitimately (the same message in the same millisecond); the fetcher delivers
  // each line exactly once, so nothing is deduplicated here.
  dedupeHorizon: 0,
  exemplars: { metrics: ['ERROR'], max: 100 },
};

const logSource = z
  .object({
    /** The key of the source's lines on vigil.logs, and its "sensor" id in windows and alerts. */
    id: identifier,
    dir: z.string().min(1),
    glob: z.string().min(1).default('*.log'),
    /** A logback layout pattern (see src/core/logs/pattern.ts). */
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
  });

const logsSchema = z
  .object({
    /** Consume vigil.logs (log records from fetchers or from producers of their own). */
    enabled: z.boolean().default(true),
    /** Directories tailed by fetcher actors; one node at a time fetches each (a lease in Redis). */
    sources: z
      .array(logSource)
      .default([])
      .superRefine((list, ctx) => {
        const ids = new Set<string>();
        list.forEach((src, i) => {
          if (ids.has(src.id))
            ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate source id "${src.id}"` });
          ids.add(src.id);
        });
      }),
    /** How often a fetcher looks for new lines. */
    pollInterval: positiveDuration.default(250),
    /** A dead node's sources move after this. */
    lease: positiveDuration.default(10_000),
    /** Longer lines are cut there and go to vigil.dlq. */
    maxLineBytes: z.number().int().min(256).max(1_048_576).default(65_536),
    pipeline: pipelineSchema(LOG_PIPELINE_DEFAULTS).prefault({ windows: LOG_WINDOWS }),
  })
  .strict()
  .prefault({});

const sinkFilter = z
  .object({
    states: z
      .array(z.enum(['firing', 'resolved']))
      .min(1)
      .optional(),
    severities: z
      .array(z.enum(['info', 'warning', 'critical']))
      .min(1)
      .optional(),
    rules: z.array(z.string().min(1)).min(1).optional(),
    sensors: z.array(z.string().min(1)).min(1).optional(),
    /** Only alerts that carry a report (a count rule's window: log errors). */
    withReport: z.boolean().optional(),
  })
  .strict()
  .default({});

const sinkBase = { id: identifier, filter: sinkFilter };

/**
 * Where alerts go besides vigil.alerts. Secrets never live here: a webhook's signing secret comes from
 * VIGIL_SINK_<ID>_SECRET and an SMTP password from VIGIL_SINK_<ID>_PASSWORD (ID upper-cased, other
 * characters as _).
 */
const sinkSpec = z.discriminatedUnion('kind', [
  z
    .object({
      ...sinkBase,
      kind: z.literal('webhook'),
      url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
      timeout: positiveDuration.default(5_000),
      headers: z.record(z.string(), z.string()).default({}),
    })
    .strict(),
  z
    .object({
      ...sinkBase,
      kind: z.literal('mqtt'),
      /** Placeholders: {sensorId} {ruleId} {severity} {state} {label.<name>}. */
      topic: z.string().min(1).default('vigil/alerts/{sensorId}/{ruleId}'),
      qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
      /** Retained: a display that subscribes later sees the current state at once. */
      retain: z.boolean().default(true),
    })
    .strict(),
  z
    .object({
      ...sinkBase,
      kind: z.literal('email'),
      smtp: z
        .object({
          host: z.string().min(1),
          port: z.number().int().min(1).max(65_535).default(587),
          /** true: TLS from the start (port 465); false: STARTTLS when the server offers it. */
          secure: z.boolean().default(false),
          /** Refuse to send without TLS (STARTTLS must succeed). */
          requireTls: z.boolean().default(false),
          username: z.string().min(1).optional(),
          tls: clientTls.optional(),
        })
        .strict(),
      from: z.string().min(3),
      to: z.array(z.string().min(3)).min(1),
      timeout: positiveDuration.default(15_000),
    })
    .strict(),
  z
    .object({
      ...sinkBase,
      kind: z.literal('file'),
      /** One text file per alert: the alert and its report. */
      dir: z.string().min(1),
    })
    .strict(),
]);

const notifySchema = z
  .object({
    sinks: z
      .array(sinkSpec)
      .default([])
      .superRefine((list, ctx) => {
        const ids = new Set<string>();
        list.forEach((sink, i) => {
          if (ids.has(sink.id))
            ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate sink id "${sink.id}"` });
          ids.add(sink.id);
        });
      }),
    retry: z
      .object({
        /** First wait after a failed delivery; it doubles up to `max`. */
        initial: positiveDuration.default(1_000),
        max: positiveDuration.default(300_000),
        /** After this long undelivered, an alert goes to vigil.dlq with its last error (never lost). */
        giveUpAfter: positiveDuration.default(7 * 86_400_000),
        /** A delivery in progress this long is presumed lost with its node and tried again. */
        visibility: positiveDuration.default(30_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    node: z.object({ id: identifier.optional() }).strict().default({}),
    log: z
      .object({
        level: logLevel.default('info'),
        /** A level per component (kafkajs, remoting, logs, notify, http, dashboard, alerts, mqtt-bridge). */
        components: z.record(z.string(), logLevel).default({}),
      })
      .strict()
      .prefault({}),
    kafka: z
      .object({
        brokers: z
          .array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port'))
          .min(1)
          .default(kafkaDefaults.brokers),
        clientId: identifier.default(kafkaDefaults.clientId),
        groupId: identifier.default(kafkaDefaults.groupId),
        /** Prepended to every topic name; tests use a unique one per run. */
        topicPrefix: z
          .string()
          .regex(/^[A-Za-z0-9._-]*$/, 'use letters, digits and . _ -')
          .default(''),
        partitions: z
          .object({
            readings: partitions.default(6),
            logs: partitions.default(6),
            // One partition: every subscriber sees one order, so "after alert X" is a position.
            alerts: z
              .literal(1, {
                error: 'must be 1: vigil.alerts keeps one order for every subscriber (README, "Alerts")',
              })
              .default(1),
            aggregates: partitions.default(6),
            dlq: partitions.default(1),
            late: partitions.default(1),
          })
          .strict()
          .default(kafkaDefaults.partitions),
        sessionTimeout: positiveDuration.default(kafkaDefaults.sessionTimeout),
        tls: clientTls.optional(),
        /** The password comes from VIGIL_KAFKA_SASL_PASSWORD, never from this file. */
        sasl: z
          .object({
            mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
            username: z.string().min(1),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default(kafkaDefaults),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .default('redis://127.0.0.1:6379'),
        /** Prepended to every key; tests use a unique one per run. */
        keyPrefix: z.string().default(''),
        /** ACL user; the password comes from VIGIL_REDIS_PASSWORD, never from this file. */
        username: z.string().min(1).optional(),
        tls: clientTls.optional(),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', keyPrefix: '' }),
    /** The MQTT broker (bridge and alert sink). The password comes from VIGIL_MQTT_PASSWORD. */
    mqtt: z
      .object({
        url: z
          .string()
          .regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
          .default('mqtt://127.0.0.1:1883'),
        username: z.string().min(1).optional(),
        tls: clientTls.optional(),
        /** Topics the bridge subscribes to (QoS 1); `+` and `#` wildcards allowed. */
        topics: z.array(z.string().min(1)).min(1).default(['sensors/+/readings']),
        /** Bridges with the same share group split the topics' messages (MQTT 5 shared subscription). */
        shareGroup: z
          .string()
          .regex(/^[^/+#\s]+$/, 'no /, +, # or spaces')
          .default('vigil'),
        /** A produce request to Kafka holds at most this many messages, or waits at most this long. */
        batchMax: z.number().int().min(1).max(10_000).default(500),
        batchDelay: duration.default(0),
      })
      .strict()
      .default({
        url: 'mqtt://127.0.0.1:1883',
        topics: ['sensors/+/readings'],
        shareGroup: 'vigil',
        batchMax: 500,
        batchDelay: 0,
      }),
    checkpoint: z
      .object({
        interval: positiveDuration.default(1_000),
        /** `memory` keeps checkpoints in the process (embedded mode); `redis` survives the process. */
        store: z.enum(['redis', 'memory']).default('redis'),
      })
      .strict()
      .default({ interval: 1_000, store: 'redis' }),
    engine: z
      .object({
        /** Records dispatched but not yet done above which fetching pauses (backpressure). */
        maxInFlight: z.number().int().min(100).default(20_000),
        /** Bucket actors per partition (fan-out level between partition and sensors). */
        buckets: z.number().int().min(1).max(4096).default(64),
        /** Events a paused sensor holds; one more and it resumes by itself (memory stays bounded). */
        maxHeldPerSensor: z.number().int().min(1).default(10_000),
        /** A sensor actor idle this long is stopped, its state left in the store (0: never). */
        passivateAfter: duration.default(120_000),
      })
      .strict()
      .prefault({}),
    pipeline: pipelineSchema({ aggregates: [...AGGREGATES], rules: [], dedupeHorizon: 300_000 }),
    logs: logsSchema,
    notify: notifySchema,
    grpc: z
      .object({
        /** host:port to serve gRPC on; unset: this node serves no gRPC (single-node use). */
        listen: z
          .string()
          .regex(/^[^\s:]+:\d+$/, 'must be host:port')
          .optional(),
        /**
         * host:port the other nodes reach this one at (published in the membership); default: listen.
         * Set it when listening on 0.0.0.0, behind NAT, or through a proxy.
         */
        advertise: z
          .string()
          .regex(/^[^\s:]+:\d+$/, 'must be host:port')
          .optional(),
        /** mTLS: the cluster CA and this node's certificate and key (files). */
        tls: z
          .object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) })
          .strict()
          .optional(),
        /** Plain text, for development only: must be said explicitly. */
        insecure: z.boolean().default(false),
      })
      .strict()
      .refine((g) => g.listen === undefined || g.tls !== undefined || g.insecure, {
        message: 'gRPC needs `tls` (ca, cert, key) or, for development only, `insecure: true`',
        path: ['tls'],
      })
      .default({ insecure: false }),
    /** The HTTP metrics API (POST /compute/metrics); unset: none. Tokens as for gRPC (VIGIL_TOKENS). */
    http: z
      .object({
        listen: z
          .string()
          .regex(/^[^\s:]+:\d+$/, 'must be host:port')
          .optional(),
        /** `GET /metrics` without a token (for a Prometheus that cannot send one). */
        metricsPublic: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    sinks: z
      .object({
        aggregates: z.boolean().default(true),
        alerts: z.boolean().default(true),
      })
      .strict()
      .default({ aggregates: true, alerts: true }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
type ParsedWindow = ParsedConfig['pipeline']['windows'][number];

/** The default name of a window spec: kind and sizes, e.g. tumbling-10s, sliding-1m-10s, session-30s. */
export function windowName(w: ParsedWindow): string {
  const format = formatDuration;
  if (w.name !== undefined) return w.name;
  switch (w.kind) {
    case 'tumbling':
      return `tumbling-${format(w.size)}`;
    case 'sliding':
      return `sliding-${format(w.size)}-${format(w.slide)}`;
    case 'session':
      return `session-${format(w.gap)}`;
  }
}
