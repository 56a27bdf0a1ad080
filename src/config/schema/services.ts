import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { compileTopic } from '../../core/mqtt-topics.js';
import { PAYLOAD_FORMATS } from '../../core/payloads/index.js';
import { clientTls, duration, identifier, positiveDuration, secret, type Env } from './common.js';

/** The topics Vigil uses, by role; each is `<topicPrefix>vigil.<role>`. */
export const TOPIC_NAMES = ['readings', 'logs', 'alerts', 'aggregates', 'dlq', 'late'] as const;
export type TopicRole = (typeof TOPIC_NAMES)[number];

const partitions = z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000);

export function kafkaSchema(env: Env) {
  return z
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
          // One partition: every subscriber sees one order, so "after alert X" is a position.
          alerts: z
            .literal(1, {
              error: 'must be 1: vigil.alerts keeps one order for every subscriber (docs/operations.md)',
            })
            .default(1),
          aggregates: partitions.default(6),
          dlq: partitions.default(1),
          late: partitions.default(1),
        })
        .strict()
        .prefault({}),
      sessionTimeout: positiveDuration.default(6_000),
      /**
       * How Vigil's own producers (outputs, the bridge, log fetchers, the simulator) compress record
       * batches. Consumers read every codec whatever this says (transport/kafka/codecs.ts).
       */
      compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('lz4'),
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
    .prefault({})
    .transform(({ topicPrefix, sessionTimeout, tls, sasl, ...k }) => ({
      ...k,
      sessionTimeoutMs: sessionTimeout,
      /** Full topic names, prefix included. */
      topics: Object.fromEntries(TOPIC_NAMES.map((t) => [t, `${topicPrefix}vigil.${t}`])) as Record<
        TopicRole,
        string
      >,
      ...(tls === undefined ? {} : { tls }),
      ...(sasl === undefined ? {} : { sasl: { ...sasl, password: saslPassword(env) } }),
    }));
}

function saslPassword(env: Env): string {
  const password = env['VIGIL_KAFKA_SASL_PASSWORD'];
  if (password === undefined || password === '')
    throw new ConfigError('kafka.sasl', 'is set, so VIGIL_KAFKA_SASL_PASSWORD must hold the password');
  return password;
}

export function redisSchema(env: Env) {
  return z
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
    .prefault({})
    .transform((r) => ({ ...r, ...secret(env, 'VIGIL_REDIS_PASSWORD') }));
}

/** The MQTT broker (bridge and alert sink). The password comes from VIGIL_MQTT_PASSWORD. */
export function mqttSchema(env: Env) {
  return z
    .object({
      url: z
        .string()
        .regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
        .default('mqtt://127.0.0.1:1883'),
      username: z.string().min(1).optional(),
      tls: clientTls.optional(),
      /**
       * Topics the bridge subscribes to (QoS 1); `+` and `#` wildcards allowed. A filter's one `+` level,
       * or a `{sensorId}` level, names the sensor of a payload that names none; `{topic, format}` pins
       * the payload format of a filter (core/mqtt-topics.ts).
       */
      topics: z
        .array(
          z.union([
            z.string().min(1),
            z.object({ topic: z.string().min(1), format: z.enum(PAYLOAD_FORMATS).default('auto') }).strict(),
          ]),
        )
        .min(1)
        .default(['sensors/+/readings'])
        .transform((entries, ctx) =>
          entries.map((e, i) => {
            const spec = typeof e === 'string' ? compileTopic(e) : compileTopic(e.topic, e.format);
            if (typeof spec === 'string') {
              ctx.addIssue({ code: 'custom', path: [i], message: spec });
              return z.NEVER;
            }
            return spec;
          }),
        ),
      /** Bridges with the same share group split the topics' messages (MQTT 5 shared subscription). */
      shareGroup: z
        .string()
        .regex(/^[^/+#\s]+$/, 'no /, +, # or spaces')
        .default('vigil'),
      /** A produce request to Kafka holds at most this many messages, or waits at most this long. */
      batchMax: z.number().int().min(1).max(10_000).default(500),
      batchDelay: duration.default(0),
      /**
       * Messages received and not yet in Kafka at most: past it the bridge stops reading from the MQTT
       * broker until Kafka takes what it holds, so a flood cannot grow its memory (QoS 0 included).
       */
      maxPending: z.number().int().min(1).max(1_000_000).default(5_000),
      /** On SIGTERM, how long the bridge may take to put what it holds into Kafka and acknowledge it. */
      stopTimeout: positiveDuration.default(5_000),
    })
    .strict()
    .prefault({})
    .refine((m) => m.maxPending >= m.batchMax, {
      message: 'maxPending must be at least batchMax',
      path: ['maxPending'],
    })
    .transform(({ batchDelay, stopTimeout, ...m }) => ({
      ...m,
      batchDelayMs: batchDelay,
      stopTimeoutMs: stopTimeout,
      ...secret(env, 'VIGIL_MQTT_PASSWORD'),
    }));
}
