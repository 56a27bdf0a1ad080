import { hostname } from 'node:os';
import { z } from 'zod';
import { duration, hostPort, identifier, logLevel, positiveDuration, type Env } from './common.js';
import { logsSchema } from './logs.js';
import { notifySchema } from './notify.js';
import { pipelineSchema, READINGS_PIPELINE_DEFAULTS } from './pipeline.js';
import { sensorLabeler } from '../../core/rules/scope.js';
import { payloadSettings, readingsSchema } from './readings.js';
import { kafkaSchema, mqttSchema, redisSchema } from './services.js';

const grpcSchema = z
  .object({
    /** host:port to serve gRPC on; unset: this node serves no gRPC (single-node use). */
    listen: hostPort.optional(),
    /**
     * host:port the other nodes reach this one at (published in the membership); default: listen.
     * Set it when listening on 0.0.0.0, behind NAT, or through a proxy.
     */
    advertise: hostPort.optional(),
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
  .prefault({})
  .transform((g) =>
    g.listen === undefined
      ? undefined
      : {
          listen: g.listen,
          /** What the membership publishes for the other nodes to dial. */
          advertise: g.advertise ?? g.listen,
          security: g.tls !== undefined ? { tls: g.tls } : { insecureDevelopmentOnly: true as const },
        },
  );

const engineSchema = z
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
  .prefault({})
  .transform(({ passivateAfter, ...e }) => ({ ...e, passivateAfterMs: passivateAfter }));

/**
 * Bounds on every way in (docs/config.md, "Limits"): whatever a producer or client sends, a node's
 * memory, its checkpoints and its outputs stay bounded, and a record over a limit is a dead letter.
 */
const limitsSchema = z
  .object({
    /** Bytes of one record's value on vigil.readings or vigil.logs (and of an MQTT payload). */
    maxRecordBytes: z.number().int().min(1_024).max(4_194_304).default(262_144),
    maxMetricsPerReading: z.number().int().min(1).max(10_000).default(64),
    /** Distinct metric names one sensor holds state for; a reading with a new one past it is a dead letter. */
    maxMetricsPerSensor: z.number().int().min(1).max(100_000).default(1_000),
    maxMetricNameLength: z.number().int().min(8).max(4_096).default(128),
    maxSensorIdLength: z.number().int().min(8).max(4_096).default(256),
    /** The largest magnitude of a value: beyond it a reading is a dead letter (aggregates stay finite). */
    maxAbsValue: z.number().positive().max(1e150).default(1e100),
    /** Event time this far ahead of the time the broker took the record: a dead letter. */
    maxFuture: positiveDuration.default(600_000),
    /** Bytes a dead letter keeps of its payload (the rest is named by its source offset). */
    deadLetterPayloadBytes: z.number().int().min(256).max(524_288).default(65_536),
    /** Distinct sensors one step of a batch hands to the actors (a burst of new sensors goes in steps). */
    maxSensorsPerStep: z.number().int().min(1).max(100_000).default(2_000),
    /** Changed sensors after which a partition checkpoints at once (a checkpoint stays bounded). */
    maxDirtySensors: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Alert subscriptions (gRPC and the dashboard's stream) a node serves at once, and per token. */
    subscriptionsPerNode: z.number().int().min(1).max(10_000).default(64),
    subscriptionsPerToken: z.number().int().min(1).max(10_000).default(8),
    /** Series × minutes one metrics query (HTTP or gRPC) may span: each is a rollup to merge. */
    maxQuerySeriesMinutes: z.number().int().min(1_000).max(1_000_000_000).default(1_000_000),
    /** Bytes a compressed Kafka record batch may decompress to; a larger one is a dead letter. */
    maxDecompressedBatchBytes: z.number().int().min(65_536).max(1_073_741_824).default(67_108_864),
  })
  .strict()
  .prefault({})
  .transform((l) => ({
    reading: {
      maxRecordBytes: l.maxRecordBytes,
      maxMetrics: l.maxMetricsPerReading,
      maxMetricNameLength: l.maxMetricNameLength,
      maxSensorIdLength: l.maxSensorIdLength,
      maxAbsValue: l.maxAbsValue,
    },
    maxFutureMs: l.maxFuture,
    maxMetricsPerSensor: l.maxMetricsPerSensor,
    deadLetterPayloadBytes: l.deadLetterPayloadBytes,
    maxSensorsPerStep: l.maxSensorsPerStep,
    maxDirtySensors: l.maxDirtySensors,
    subscriptionsPerNode: l.subscriptionsPerNode,
    subscriptionsPerToken: l.subscriptionsPerToken,
    maxQuerySeriesMinutes: l.maxQuerySeriesMinutes,
    maxDecompressedBatchBytes: l.maxDecompressedBatchBytes,
  }));

/** The HTTP server (metrics API, dashboard, /metrics); unset `listen`: none. Tokens as for gRPC (VIGIL_TOKENS). */
const httpSchema = z
  .object({
    listen: hostPort.optional(),
    /** `GET /metrics` without a token (for a Prometheus that cannot send one). */
    metricsPublic: z.boolean().default(false),
    /** A request body over this gets 413. */
    maxBodyBytes: z.number().int().min(1_024).max(67_108_864).default(1_048_576),
    /** A client must send its headers within this, and its whole request within requestTimeout. */
    headersTimeout: positiveDuration.default(10_000),
    requestTimeout: positiveDuration.default(30_000),
    /** An idle kept-alive connection is closed after this. */
    keepAliveTimeout: positiveDuration.default(5_000),
    /** Connections at once; more are refused. */
    maxConnections: z.number().int().min(1).max(100_000).default(256),
    /**
     * HTTPS (PEM files): the server's certificate and key, and optionally a CA whose client
     * certificates every request but the probes must present.
     */
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1), clientCa: z.string().min(1).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({})
  .refine((h) => h.requestTimeout >= h.headersTimeout, {
    message: 'requestTimeout must be at least headersTimeout',
    path: ['requestTimeout'],
  });

/** The whole configuration: the YAML file's sections, with the secrets of `env`. */
export function configSchema(env: Env) {
  return z
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
      kafka: kafkaSchema(env),
      redis: redisSchema(env),
      mqtt: mqttSchema(env),
      checkpoint: z
        .object({
          interval: positiveDuration.default(1_000),
          /** `memory` keeps checkpoints in the process (embedded mode); `redis` survives the process. */
          store: z.enum(['redis', 'memory']).default('redis'),
        })
        .strict()
        .prefault({})
        .transform((c) => ({ intervalMs: c.interval, store: c.store })),
      engine: engineSchema,
      readings: readingsSchema,
      pipeline: pipelineSchema(READINGS_PIPELINE_DEFAULTS),
      logs: logsSchema,
      notify: notifySchema(env),
      grpc: grpcSchema,
      http: httpSchema,
      limits: limitsSchema,
      /** Which outputs the engine produces to Kafka besides late records and dead letters. */
      outputs: z
        .object({ aggregates: z.boolean().default(true), alerts: z.boolean().default(true) })
        .strict()
        .prefault({}),
    })
    .strict()
    .transform(({ node, log, http, engine, pipeline, logs, readings: input, ...c }) => {
      // Rollups are kept as long as the readings pipeline says (log windows share the store).
      const { rollupTtlMs, rawTtlMs, ...readings } = pipeline;
      const perSensor = {
        maxHeldEvents: engine.maxHeldPerSensor,
        maxMetricsPerSensor: c.limits.maxMetricsPerSensor,
      };
      const logPipeline = { ...logs.pipeline, ...perSensor };
      return {
        ...c,
        // The Kafka client's decompressors are bounded by this limit (transport/kafka/codecs.ts).
        kafka: { ...c.kafka, maxDecompressedBatchBytes: c.limits.maxDecompressedBatchBytes },
        /** How vigil.readings (and MQTT payloads) are read, who is expected, and the clock records. */
        readings: {
          payload: payloadSettings(input, c.limits.reading),
          expected: input.expected,
          clock: input.clock,
        },
        nodeId: node.id ?? `${hostname()}-${process.pid}`,
        logLevel: log.level,
        /** A level per component, over `logLevel`. */
        logComponents: log.components,
        engine,
        pipeline: { ...readings, ...perSensor, sensorLabels: sensorLabeler(input.sensorLabels) },
        logs: { ...logs, pipeline: logPipeline },
        rollupTtlMs,
        /** How long raw readings are kept beside the rollups (0: none): the metrics query's horizon. */
        rawTtlMs,
        /** The HTTP server's address (metrics API, dashboard, /metrics), when configured. */
        httpListen: http.listen,
        /** `GET /metrics` needs no token. */
        httpMetricsPublic: http.metricsPublic,
        /** HTTPS instead of plain HTTP, with client certificates when `clientCa` is set. */
        httpTls: http.tls,
        http: {
          maxBodyBytes: http.maxBodyBytes,
          headersTimeoutMs: http.headersTimeout,
          requestTimeoutMs: http.requestTimeout,
          keepAliveTimeoutMs: http.keepAliveTimeout,
          maxConnections: http.maxConnections,
        },
      };
    });
}

export type ConfigInput = z.input<ReturnType<typeof configSchema>>;

/** The validated configuration a node runs with (inferred from the schema: every option written once). */
export type VigilConfig = z.output<ReturnType<typeof configSchema>>;
export type LogSourceConfig = VigilConfig['logs']['sources'][number];
export type SinkConfig = VigilConfig['notify']['sinks'][number];
