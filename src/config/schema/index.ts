import { hostname } from 'node:os';
import { z } from 'zod';
import { duration, hostPort, identifier, logLevel, positiveDuration, type Env } from './common.js';
import { logsSchema } from './logs.js';
import { notifySchema } from './notify.js';
import { pipelineSchema, READINGS_PIPELINE_DEFAULTS } from './pipeline.js';
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
      pipeline: pipelineSchema(READINGS_PIPELINE_DEFAULTS),
      logs: logsSchema,
      notify: notifySchema(env),
      grpc: grpcSchema,
      /** The HTTP server (metrics API, dashboard, /metrics); unset: none. Tokens as for gRPC (VIGIL_TOKENS). */
      http: z
        .object({
          listen: hostPort.optional(),
          /** `GET /metrics` without a token (for a Prometheus that cannot send one). */
          metricsPublic: z.boolean().default(false),
        })
        .strict()
        .prefault({}),
      /** Which outputs the engine produces to Kafka besides late records and dead letters. */
      outputs: z
        .object({ aggregates: z.boolean().default(true), alerts: z.boolean().default(true) })
        .strict()
        .prefault({}),
    })
    .strict()
    .transform(({ node, log, http, engine, pipeline, logs, ...c }) => {
      // Rollups are kept as long as the readings pipeline says (log windows share the store).
      const { rollupTtlMs, ...readings } = pipeline;
      const logPipeline = { ...logs.pipeline, maxHeldEvents: engine.maxHeldPerSensor };
      return {
        ...c,
        nodeId: node.id ?? `${hostname()}-${process.pid}`,
        logLevel: log.level,
        /** A level per component, over `logLevel`. */
        logComponents: log.components,
        engine,
        pipeline: { ...readings, maxHeldEvents: engine.maxHeldPerSensor },
        logs: { ...logs, pipeline: logPipeline },
        rollupTtlMs,
        /** The HTTP server's address (metrics API, dashboard, /metrics), when configured. */
        httpListen: http.listen,
        /** `GET /metrics` needs no token. */
        httpMetricsPublic: http.metricsPublic,
      };
    });
}

export type ConfigInput = z.input<ReturnType<typeof configSchema>>;

/** The validated configuration a node runs with (inferred from the schema: every option written once). */
export type VigilConfig = z.output<ReturnType<typeof configSchema>>;
export type LogSourceConfig = VigilConfig['logs']['sources'][number];
export type SinkConfig = VigilConfig['notify']['sinks'][number];
