import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { needsSketch } from '../core/aggregate.js';
import type { Rule } from '../core/rules/types.js';
import type { SensorPipeline } from '../core/sensor.js';
import type { WindowSpec } from '../core/windows.js';
import { parseUtcOffset } from '../core/log-sources/pattern.js';
import type { SinkFilter } from '../core/notify.js';
import { configSchema, windowName, type ParsedConfig } from './schema.js';

export const TOPIC_NAMES = ['readings', 'logs', 'alerts', 'aggregates', 'dlq', 'late'] as const;
export type TopicRole = (typeof TOPIC_NAMES)[number];

/** PEM files for TLS to a service; `ca` verifies it, `cert` + `key` identify us. */
export interface TlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly rejectUnauthorized: boolean;
}

/** How to reach and authenticate to a service; secrets come from the environment only. */
export interface Credentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** A directory of log files, tailed by one fetcher actor in the cluster at a time. */
export interface LogSourceConfig {
  readonly id: string;
  readonly dir: string;
  readonly glob: string;
  readonly pattern: string;
  /** Minutes east of UTC the log's times are written in. */
  readonly utcOffsetMinutes: number;
}

interface SinkBase {
  readonly id: string;
  readonly filter: SinkFilter;
}

export type SinkConfig =
  | (SinkBase & {
      readonly kind: 'webhook';
      readonly url: string;
      readonly timeoutMs: number;
      readonly headers: Readonly<Record<string, string>>;
      /** HMAC-SHA256 signing secret, from VIGIL_SINK_<ID>_SECRET. */
      readonly secret?: string;
    })
  | (SinkBase & {
      readonly kind: 'mqtt';
      readonly topic: string;
      readonly qos: 0 | 1 | 2;
      readonly retain: boolean;
    })
  | (SinkBase & {
      readonly kind: 'email';
      readonly smtp: Credentials & {
        readonly host: string;
        readonly port: number;
        readonly secure: boolean;
        readonly requireTls: boolean;
        readonly tls?: TlsFiles | undefined;
      };
      readonly from: string;
      readonly to: readonly string[];
      readonly timeoutMs: number;
    })
  | (SinkBase & { readonly kind: 'file'; readonly dir: string });

/** The environment variable holding a sink's secret: VIGIL_SINK_<ID>_<WHAT>. */
export function sinkSecretVariable(sinkId: string, what: 'SECRET' | 'PASSWORD'): string {
  return `VIGIL_SINK_${sinkId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${what}`;
}

/** The validated configuration a node runs with. */
export interface VigilConfig {
  readonly nodeId: string;
  readonly logLevel: ParsedConfig['log']['level'];
  /** A level per component, over `logLevel`. */
  readonly logComponents: Readonly<Record<string, ParsedConfig['log']['level']>>;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly groupId: string;
    readonly sessionTimeoutMs: number;
    /** Full topic names, prefix included. */
    readonly topics: Readonly<Record<TopicRole, string>>;
    readonly partitions: Readonly<Record<TopicRole, number>>;
    readonly tls?: TlsFiles;
    readonly sasl?: {
      readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
      readonly username: string;
      readonly password: string;
    };
  };
  readonly redis: Credentials & {
    readonly url: string;
    readonly keyPrefix: string;
    readonly tls?: TlsFiles | undefined;
  };
  readonly mqtt: Credentials & {
    readonly url: string;
    readonly tls?: TlsFiles | undefined;
    readonly topics: readonly string[];
    readonly shareGroup: string;
    readonly batchMax: number;
    readonly batchDelayMs: number;
  };
  readonly checkpoint: { readonly intervalMs: number; readonly store: 'redis' | 'memory' };
  readonly engine: {
    readonly maxInFlight: number;
    readonly buckets: number;
    readonly maxHeldPerSensor: number;
    readonly passivateAfterMs: number;
  };
  readonly pipeline: SensorPipeline;
  readonly logs: {
    /** Consume vigil.logs with the log pipeline. */
    readonly enabled: boolean;
    readonly sources: readonly LogSourceConfig[];
    readonly pollIntervalMs: number;
    readonly leaseMs: number;
    readonly maxLineBytes: number;
    readonly pipeline: SensorPipeline;
  };
  readonly notify: {
    readonly sinks: readonly SinkConfig[];
    readonly retry: {
      readonly initialMs: number;
      readonly maxMs: number;
      readonly giveUpAfterMs: number;
      readonly visibilityMs: number;
    };
  };
  readonly rollupTtlMs: number;
  readonly sinks: { readonly aggregates: boolean; readonly alerts: boolean };
  /** The HTTP server's address (metrics API, dashboard, /metrics), when configured. */
  readonly httpListen: string | undefined;
  /** `GET /metrics` needs no token. */
  readonly httpMetricsPublic: boolean;
  /** gRPC server of this node, when configured. Tokens never live here: see VIGIL_TOKENS. */
  readonly grpc:
    | {
        readonly listen: string;
        /** What the membership publishes for the other nodes to dial. */
        readonly advertise: string;
        readonly security:
          | { readonly tls: { readonly ca: string; readonly cert: string; readonly key: string } }
          | { readonly insecureDevelopmentOnly: true };
      }
    | undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) =>
      typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`,
    '',
  );
}

/** Environment variables that override the file (secrets and per-process settings never live in code). */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (name: string): Record<string, unknown> => {
    const existing = raw[name];
    if (typeof existing === 'object' && existing !== null) return existing as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    raw[name] = created;
    return created;
  };
  if (env['VIGIL_NODE_ID']) section('node')['id'] = env['VIGIL_NODE_ID'];
  if (env['VIGIL_LOG_LEVEL']) section('log')['level'] = env['VIGIL_LOG_LEVEL'];
  if (env['VIGIL_KAFKA_BROKERS'])
    section('kafka')['brokers'] = env['VIGIL_KAFKA_BROKERS'].split(',').map((s) => s.trim());
  if (env['VIGIL_KAFKA_GROUP_ID']) section('kafka')['groupId'] = env['VIGIL_KAFKA_GROUP_ID'];
  if (env['VIGIL_TOPIC_PREFIX'] !== undefined) section('kafka')['topicPrefix'] = env['VIGIL_TOPIC_PREFIX'];
  if (env['VIGIL_REDIS_URL']) section('redis')['url'] = env['VIGIL_REDIS_URL'];
  if (env['VIGIL_GRPC_LISTEN']) section('grpc')['listen'] = env['VIGIL_GRPC_LISTEN'];
  if (env['VIGIL_GRPC_ADVERTISE']) section('grpc')['advertise'] = env['VIGIL_GRPC_ADVERTISE'];
  if (env['VIGIL_HTTP_LISTEN']) section('http')['listen'] = env['VIGIL_HTTP_LISTEN'];
  if (env['VIGIL_REDIS_KEY_PREFIX'] !== undefined)
    section('redis')['keyPrefix'] = env['VIGIL_REDIS_KEY_PREFIX'];
  if (env['VIGIL_REDIS_USERNAME']) section('redis')['username'] = env['VIGIL_REDIS_USERNAME'];
  if (env['VIGIL_MQTT_URL']) section('mqtt')['url'] = env['VIGIL_MQTT_URL'];
  if (env['VIGIL_MQTT_USERNAME']) section('mqtt')['username'] = env['VIGIL_MQTT_USERNAME'];
}

/** A secret from the environment (never from the file), as an optional field. */
function secret(env: NodeJS.ProcessEnv, name: string): { password?: string } {
  const value = env[name];
  return value === undefined || value === '' ? {} : { password: value };
}

function saslOf(
  sasl: ParsedConfig['kafka']['sasl'],
  env: NodeJS.ProcessEnv,
): Pick<VigilConfig['kafka'], 'sasl'> {
  if (sasl === undefined) return {};
  const password = env['VIGIL_KAFKA_SASL_PASSWORD'];
  if (password === undefined || password === '')
    throw new ConfigError('kafka.sasl', 'is set, so VIGIL_KAFKA_SASL_PASSWORD must hold the password');
  return { sasl: { ...sasl, password } };
}

/** Validates an already-parsed object (from YAML, or built in code by tests). */
export function buildConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = {},
  locate?: (path: readonly PropertyKey[]) => string,
): VigilConfig {
  const input: Record<string, unknown> =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? structuredClone(raw as Record<string, unknown>)
      : {};
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError('', 'the configuration must be a mapping of sections (node, log, kafka, pipeline)');
  }
  applyEnv(input, env);
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) throw zodToConfigError(parsed.error, locate);
  const c = parsed.data;
  const prefix = c.kafka.topicPrefix;
  const topics = Object.fromEntries(TOPIC_NAMES.map((t) => [t, `${prefix}vigil.${t}`])) as Record<
    TopicRole,
    string
  >;
  return {
    nodeId: c.node.id ?? `${hostname()}-${process.pid}`,
    logLevel: c.log.level,
    logComponents: c.log.components,
    kafka: {
      brokers: c.kafka.brokers,
      clientId: c.kafka.clientId,
      groupId: c.kafka.groupId,
      sessionTimeoutMs: c.kafka.sessionTimeout,
      topics,
      partitions: c.kafka.partitions,
      ...(c.kafka.tls === undefined ? {} : { tls: c.kafka.tls }),
      ...saslOf(c.kafka.sasl, env),
    },
    redis: { ...c.redis, ...secret(env, 'VIGIL_REDIS_PASSWORD') },
    mqtt: {
      url: c.mqtt.url,
      username: c.mqtt.username,
      tls: c.mqtt.tls,
      topics: c.mqtt.topics,
      shareGroup: c.mqtt.shareGroup,
      batchMax: c.mqtt.batchMax,
      batchDelayMs: c.mqtt.batchDelay,
      ...secret(env, 'VIGIL_MQTT_PASSWORD'),
    },
    checkpoint: { intervalMs: c.checkpoint.interval, store: c.checkpoint.store },
    engine: {
      maxInFlight: c.engine.maxInFlight,
      buckets: c.engine.buckets,
      maxHeldPerSensor: c.engine.maxHeldPerSensor,
      passivateAfterMs: c.engine.passivateAfter,
    },
    pipeline: toPipeline(c.pipeline, c.engine.maxHeldPerSensor),
    logs: {
      enabled: c.logs.enabled,
      sources: c.logs.sources.map((s) => ({
        id: s.id,
        dir: s.dir,
        glob: s.glob,
        pattern: s.pattern,
        utcOffsetMinutes: parseUtcOffset(s.timezone) ?? 0,
      })),
      pollIntervalMs: c.logs.pollInterval,
      leaseMs: c.logs.lease,
      maxLineBytes: c.logs.maxLineBytes,
      pipeline: toPipeline(c.logs.pipeline, c.engine.maxHeldPerSensor),
    },
    notify: {
      sinks: c.notify.sinks.map((sink) => toSink(sink, env)),
      retry: {
        initialMs: c.notify.retry.initial,
        maxMs: c.notify.retry.max,
        giveUpAfterMs: c.notify.retry.giveUpAfter,
        visibilityMs: c.notify.retry.visibility,
      },
    },
    rollupTtlMs: c.pipeline.rollups.ttl,
    sinks: c.sinks,
    httpListen: c.http.listen,
    httpMetricsPublic: c.http.metricsPublic,
    grpc:
      c.grpc.listen === undefined
        ? undefined
        : {
            listen: c.grpc.listen,
            advertise: c.grpc.advertise ?? c.grpc.listen,
            security: c.grpc.tls !== undefined ? { tls: c.grpc.tls } : { insecureDevelopmentOnly: true },
          },
  };
}

type ParsedPipeline = ParsedConfig['pipeline'];
type ParsedWindow = ParsedPipeline['windows'][number];
type ParsedRule = ParsedPipeline['rules'][number];
type ParsedSink = ParsedConfig['notify']['sinks'][number];

function toPipeline(p: ParsedPipeline, maxHeldEvents: number): SensorPipeline {
  return {
    windows: p.windows.map(toWindowSpec),
    window: {
      allowedLatenessMs: p.eventTime.allowedLateness,
      aggregates: p.aggregates,
      withSketch: needsSketch(new Set(p.aggregates)),
      metrics: p.metrics === undefined ? undefined : new Set(p.metrics),
      exemplars:
        p.exemplars === undefined
          ? undefined
          : { metrics: new Set(p.exemplars.metrics), max: p.exemplars.max },
    },
    rules: p.rules.map(toRule),
    outOfOrdernessMs: p.eventTime.outOfOrderness,
    dedupeHorizonMs: p.dedupe.horizon,
    idleTimeoutMs: p.eventTime.idleTimeout,
    rollups: p.rollups.enabled,
    maxHeldEvents,
  };
}

function toSink(s: ParsedSink, env: NodeJS.ProcessEnv): SinkConfig {
  const base = { id: s.id, filter: s.filter };
  switch (s.kind) {
    case 'webhook': {
      const secret = env[sinkSecretVariable(s.id, 'SECRET')];
      return {
        ...base,
        kind: 'webhook',
        url: s.url,
        timeoutMs: s.timeout,
        headers: s.headers,
        ...(secret === undefined || secret === '' ? {} : { secret }),
      };
    }
    case 'mqtt':
      return { ...base, kind: 'mqtt', topic: s.topic, qos: s.qos, retain: s.retain };
    case 'email':
      return {
        ...base,
        kind: 'email',
        smtp: { ...s.smtp, ...secret(env, sinkSecretVariable(s.id, 'PASSWORD')) },
        from: s.from,
        to: s.to,
        timeoutMs: s.timeout,
      };
    case 'file':
      return { ...base, kind: 'file', dir: s.dir };
  }
}

function toWindowSpec(w: ParsedWindow): WindowSpec {
  const name = windowName(w);
  switch (w.kind) {
    case 'tumbling':
      return { kind: 'tumbling', name, sizeMs: w.size };
    case 'sliding':
      return { kind: 'sliding', name, sizeMs: w.size, slideMs: w.slide };
    case 'session':
      return { kind: 'session', name, gapMs: w.gap };
  }
}

function toRule(r: ParsedRule): Rule {
  const base = { id: r.id, severity: r.severity, labels: r.labels };
  switch (r.kind) {
    case 'threshold':
      return {
        ...base,
        kind: 'threshold',
        metric: r.metric,
        hysteresis: r.hysteresis,
        minDurationMs: r.minDuration,
        ...(r.above === undefined ? {} : { above: r.above }),
        ...(r.below === undefined ? {} : { below: r.below }),
      };
    case 'outlier':
      return {
        ...base,
        kind: 'outlier',
        metric: r.metric,
        zScore: r.zScore,
        minSamples: r.minSamples,
        ...(r.mean === undefined || r.stddev === undefined ? {} : { mean: r.mean, stddev: r.stddev }),
      };
    case 'rate-of-change':
      return { ...base, kind: 'rate-of-change', metric: r.metric, maxPerSecond: r.maxPerSecond };
    case 'count':
      return { ...base, kind: 'count', window: r.window, metric: r.metric, above: r.above };
    case 'silence':
      return { ...base, kind: 'silence', afterMs: r.after };
  }
}

/** Parses and validates one rule on its own (rules set at run time over the control plane). */
export function parseRule(raw: unknown): Rule {
  const parsed = configSchema.shape.pipeline.safeParse({
    windows: [{ kind: 'tumbling', size: 1000 }],
    rules: [raw],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? '' : formatPath(issue.path.slice(2));
    throw new ConfigError(path, issue?.message ?? 'invalid rule', { cause: parsed.error });
  }
  const rule = parsed.data.rules[0];
  if (rule === undefined) throw new ConfigError('', 'no rule given');
  return toRule(rule);
}

function zodToConfigError(error: z.ZodError, locate?: (path: readonly PropertyKey[]) => string): ConfigError {
  const first = error.issues[0];
  const path = first === undefined ? '' : formatPath(first.path);
  const where = first !== undefined && locate !== undefined ? locate(first.path) : '';
  const others =
    error.issues.length > 1 ? ` (${error.issues.length - 1} more problem(s) after this one)` : '';
  let message = first?.message ?? 'invalid';
  if (first?.code === 'unrecognized_keys' && first.keys.includes('password')) {
    const variable = PASSWORD_VARIABLES[path];
    if (variable !== undefined) message = `passwords never live in the config file: set ${variable}`;
  }
  return new ConfigError(path, `${message}${where}${others}`, { cause: error });
}

/** Where each service's password comes from instead of the file. */
const PASSWORD_VARIABLES: Readonly<Record<string, string>> = {
  'kafka.sasl': 'VIGIL_KAFKA_SASL_PASSWORD',
  redis: 'VIGIL_REDIS_PASSWORD',
  mqtt: 'VIGIL_MQTT_PASSWORD',
};

/** Reads, parses and validates a YAML config file. Errors say the file, the path in it and the line. */
export function loadConfigText(text: string, source: string, env: NodeJS.ProcessEnv = {}): VigilConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    throw new ConfigError('', `${source}: not valid YAML: ${yamlError.message}`, { cause: yamlError });
  }
  const locate = (path: readonly PropertyKey[]): string => {
    // Walk up to the deepest node that exists, so "missing key" errors point at their parent.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as
        { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return ` (${source}:${line}:${col})`;
      }
    }
    return ` (${source})`;
  };
  return buildConfig(doc.toJS() as unknown, env, locate);
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): VigilConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return loadConfigText(text, file, env);
}
