import type { VigilConfig } from '../config/load.js';
import { TOPIC_NAMES } from '../config/load.js';
import { MemoryRecordLog } from '../ports/memory-record-log.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import { MemoryStateStore } from '../ports/memory-state-store.js';
import { RedisStateStore } from '../transport/redis/state-store.js';
import type { StateStore } from '../ports/state-store.js';
import { createKafka } from '../transport/kafka/client.js';
import { KafkaRecordConsumer, KafkaRecordProducer } from '../transport/kafka/record-log.js';
import { ensureTopics } from '../transport/kafka/topics.js';
import { Membership } from '../transport/redis/membership.js';
import { RuntimeRules } from '../transport/redis/runtime-rules.js';
import { KafkaAlertLog } from '../transport/kafka/alert-log.js';
import { ConfigError } from '../core/errors.js';
import { TokenAuthority } from '../transport/auth.js';
import { metricsApiRoutes } from '../transport/http/metrics-api.js';
import { dashboardRoutes } from '../transport/http/dashboard.js';
import { prometheusRoute, PROMETHEUS_ENDPOINT } from '../transport/http/prometheus.js';
import { startHttpServer } from '../transport/http/server.js';
import { Subscriptions } from '../transport/alert-subscription.js';
import { NodeMetrics } from '../obs/metrics.js';
import { takeLargestMailbox } from '../actors/nact.js';
import { startNodeGrpc } from './grpc.js';
import type { NodeRef } from '../ports/node-ref.js';
import { Engine } from '../engine/engine.js';
import { startSystem } from '../actors/nact.js';
import { LogFetchers } from '../actors/log-fetchers.js';
import { LogFetcher } from '../transport/files/log-fetcher.js';
import { MemorySourceWriter, type SourceWriter } from '../ports/source-writer.js';
import { KafkaSourceWriter } from '../transport/kafka/source-writer.js';
import { MemorySourceStore } from '../ports/memory-source-store.js';
import { RedisSourceStore } from '../transport/redis/source-store.js';
import type { SourceLease, SourceStore } from '../ports/source-store.js';
import type { LogSourceConfig } from '../config/load.js';
import { Notifier } from '../transport/notify/notifier.js';
import { createSink } from '../transport/notify/sinks.js';
import type { RecordConsumer, RecordProducer } from '../ports/record-log.js';
import { MemoryOutbox } from '../ports/memory-outbox.js';
import type { Outbox } from '../ports/outbox.js';
import { RedisOutbox } from '../transport/redis/outbox.js';

/** A node that stops refreshing its membership lease disappears from the cluster view after this. */
const MEMBERSHIP_LEASE_MS = 6_000;

/** Partitions a node works on at once (kafkajs partitionsConsumedConcurrently). */
const CONCURRENCY = 3;

export interface RunningNode {
  readonly engine: Engine;
  /** Alert notifications, when sinks are configured. */
  readonly notifier?: Notifier;
  /** The log fetchers, when this node has log sources configured. */
  readonly fetchers?: LogFetchers;
  /** The bound gRPC port, when the node serves gRPC. */
  readonly grpcPort?: number;
  /** The bound port of the HTTP metrics API, when configured. */
  readonly httpPort?: number;
  /** Drains (final checkpoints, leaves the group and the cluster) and closes everything. Idempotent. */
  stop(): Promise<void>;
}

export interface NodeEvents {
  /** The node cannot go on (its consumer stopped for good, say); the caller should stop it. */
  readonly onFatal?: (error: Error) => void;
  /** DrainNode was carried out: the node has left the cluster; the caller should stop it. */
  readonly onDrained?: () => void;
}

/** The HTTP API takes the same tokens as gRPC, and refuses to start without any. */
function httpTokens(env: NodeJS.ProcessEnv): TokenAuthority {
  const spec = env['VIGIL_TOKENS'];
  if (spec === undefined || spec.trim() === '')
    throw new ConfigError(
      'VIGIL_TOKENS',
      'http.listen is set but no tokens are: set VIGIL_TOKENS="viewer=<token>,…"',
    );
  return TokenAuthority.parse(spec);
}

/** How long a dead fetcher's open transaction may block readers of its vigil.logs partition. */
const FETCH_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * Starts the fetchers of the configured log sources (none configured: none started). Each source's
 * writes use their own transactional id, derived from the logs topic so test runs never share one.
 */
function startFetchers(
  config: VigilConfig,
  logger: Logger,
  store: SourceStore,
  sourceWriter: (source: LogSourceConfig) => SourceWriter,
  metrics?: NodeMetrics,
): LogFetchers | undefined {
  const { logs } = config;
  if (logs.sources.length === 0) return undefined;
  const logsLogger = componentLogger(logger, 'logs');
  return new LogFetchers(startSystem(), {
    nodeId: config.nodeId,
    sources: logs.sources,
    leaseMs: logs.leaseMs,
    pollIntervalMs: logs.pollIntervalMs,
    store,
    logger: logsLogger,
    fetcher: (source: LogSourceConfig, lease: SourceLease) =>
      new LogFetcher(
        {
          source,
          topics: { logs: config.kafka.topics.logs, dlq: config.kafka.topics.dlq },
          maxLineBytes: logs.maxLineBytes,
        },
        {
          store,
          writer: sourceWriter(source),
          lease,
          logger: logsLogger.child({ source: source.id }),
          ...(metrics === undefined ? {} : { metrics }),
        },
      ),
  });
}

/** The notifier of the configured sinks (none configured: none). */
function startNotifier(
  config: VigilConfig,
  logger: Logger,
  ports: () => { outbox: Outbox; consumer: RecordConsumer; producer: RecordProducer },
  metrics?: NodeMetrics,
): Notifier | undefined {
  if (config.notify.sinks.length === 0) return undefined;
  return new Notifier({
    sinks: config.notify.sinks.map((c) => ({ sink: createSink(c, config), filter: c.filter })),
    ...ports(),
    topics: { alerts: config.kafka.topics.alerts, dlq: config.kafka.topics.dlq },
    retry: config.notify.retry,
    logger: componentLogger(logger, 'notify'),
    ...(metrics === undefined ? {} : { metrics }),
  });
}

/** A cluster node: Kafka for the log, Redis (or memory) for checkpoints. Creates missing topics first. */
export async function startNode(
  config: VigilConfig,
  logger: Logger,
  events: NodeEvents = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningNode> {
  const { onFatal } = events;
  const kafka = createKafka(config.kafka, logger);
  const { topics, partitions } = config.kafka;
  await ensureTopics(
    kafka,
    TOPIC_NAMES.map((role) => ({ topic: topics[role], numPartitions: partitions[role] })),
    logger,
  );
  const store: StateStore =
    config.checkpoint.store === 'redis'
      ? new RedisStateStore({ ...config.redis, rollupTtlMs: config.rollupTtlMs })
      : new MemoryStateStore();
  // Membership is published when the node serves gRPC (other nodes need its address to reach it).
  const membership =
    config.grpc === undefined
      ? undefined
      : new Membership(
          {
            ...config.redis,
            nodeId: config.nodeId,
            address: config.grpc.advertise,
            leaseMs: MEMBERSHIP_LEASE_MS,
          },
          logger,
        );
  const metrics = new NodeMetrics(config.nodeId);
  const engine = new Engine({
    config,
    logger,
    metrics,
    ...(membership === undefined
      ? {}
      : {
          onAssignment: (partitions: readonly string[]) => {
            membership.setPartitions(partitions).catch((err: unknown) => {
              logger.warn({ err }, 'publishing partitions failed');
            });
          },
        }),
    consumer: new KafkaRecordConsumer(
      kafka,
      {
        groupId: config.kafka.groupId,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        concurrency: CONCURRENCY,
      },
      logger,
    ),
    producer: new KafkaRecordProducer(kafka),
    store,
    ...(onFatal === undefined ? {} : { onFatal }),
  });
  // Runtime rules (shared in Redis) come with the cluster, like membership.
  const rules =
    config.grpc === undefined
      ? undefined
      : new RuntimeRules(
          { ...config.redis, base: config.pipeline.rules },
          (next, version) => {
            engine.setRules(next);
            logger.info({ version, rules: next.map((r) => r.id) }, 'rules in force');
          },
          logger,
        );
  await membership?.start();
  await rules?.start();
  await engine.start();
  const sourceStore: SourceStore =
    config.checkpoint.store === 'redis' ? new RedisSourceStore(config.redis) : new MemorySourceStore();
  const fetchers = startFetchers(
    config,
    logger,
    sourceStore,
    (source) =>
      new KafkaSourceWriter(
        kafka,
        {
          transactionalId: `${config.kafka.topics.logs}.fetcher.${source.id}`,
          groupPrefix: `${config.kafka.groupId}.fetcher-probe.`,
          sessionTimeoutMs: config.kafka.sessionTimeoutMs,
          transactionTimeoutMs: FETCH_TRANSACTION_TIMEOUT_MS,
        },
        componentLogger(logger, 'logs', { source: source.id }),
      ),
    metrics,
  );
  const notifier = startNotifier(
    config,
    logger,
    () => ({
      outbox: config.checkpoint.store === 'redis' ? new RedisOutbox(config.redis) : new MemoryOutbox(),
      consumer: new KafkaRecordConsumer(
        kafka,
        {
          groupId: `${config.kafka.groupId}.notify`,
          sessionTimeoutMs: config.kafka.sessionTimeoutMs,
          concurrency: 1,
        },
        logger,
      ),
      producer: new KafkaRecordProducer(kafka),
    }),
    metrics,
  );
  await notifier?.start();
  const alertLog = new KafkaAlertLog(
    kafka,
    {
      topic: topics.alerts,
      groupPrefix: `${config.kafka.groupId}.alerts.${config.nodeId}.`,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    },
    logger,
  );
  /** Leaves the cluster: the engine's final checkpoints and group exit, then membership. */
  let leaving: Promise<void> | undefined;
  const leave = (): Promise<void> =>
    (leaving ??= (async () => {
      // Fetchers first: their sources move to other nodes at once, with nothing left pending.
      await fetchers?.stop();
      await engine.stop();
      await rules?.stop();
      await membership?.stop();
    })());
  const local: NodeRef = {
    nodeId: config.nodeId,
    inspect: (id) => engine.inspectSensor(id),
    control: (id, command) => engine.controlSensor(id, command),
    crash: (id) => engine.crashSensor(id),
    listActors: () => engine.listActors(),
    partitions: () => Promise.resolve(engine.partitions),
    summary: async () => ({
      partitions: engine.partitions,
      actors: engine.actorCount,
      logSources: (await fetchers?.held()) ?? [],
      stats: { ...engine.stats },
    }),
    drain: async () => {
      const partitions = engine.partitions.length;
      await leave();
      // The reply goes out before the caller tears the rest of the node down.
      setImmediate(() => events.onDrained?.());
      return `drained: final checkpoints of ${partitions} partition(s) written, left the group and the cluster`;
    },
  };
  const grpcConfig = config.grpc;
  const grpc =
    grpcConfig === undefined || membership === undefined || rules === undefined
      ? undefined
      : await startNodeGrpc({
          config: { ...config, grpc: grpcConfig },
          logger,
          store,
          membership,
          rules,
          alertLog,
          env,
          local,
          metrics,
        });
  metrics.bind({
    partitions: () => engine.partitions.map((p) => ({ ...p })),
    actors: () => engine.actorCount,
    takeLargestMailbox,
  });
  const streams = new Subscriptions();
  const http =
    config.httpListen === undefined
      ? undefined
      : await startHttpServer({
          listen: config.httpListen,
          tokens: httpTokens(env),
          logger: componentLogger(logger, 'http'),
          routes: [
            ...metricsApiRoutes(store),
            prometheusRoute(metrics, config.httpMetricsPublic ? 'public' : PROMETHEUS_ENDPOINT),
            ...dashboardRoutes({
              cluster: {
                members: () => membership?.members() ?? Promise.resolve([]),
                local,
                ...(grpc === undefined
                  ? {}
                  : { remote: (m: { id: string; address: string }) => grpc.remote(m) }),
              },
              store,
              ...(rules === undefined ? {} : { rules }),
              configRules: () => engine.rules,
              alertLog,
              subscriptions: streams,
              logger: componentLogger(logger, 'dashboard'),
            }),
          ],
        });
  let stopping: Promise<void> | undefined;
  return {
    engine,
    ...(fetchers === undefined ? {} : { fetchers }),
    ...(notifier === undefined ? {} : { notifier }),
    ...(grpc === undefined ? {} : { grpcPort: grpc.port }),
    ...(http === undefined ? {} : { httpPort: http.port }),
    stop: () =>
      (stopping ??= (async () => {
        await streams.closeAll();
        await http?.stop();
        await grpc?.stop();
        await leave();
        await notifier?.stop();
        await alertLog.close();
        await sourceStore.close();
        await store.close();
      })()),
  };
}

/** Embedded mode: the same engine over an in-memory log and state store, in this process only. */
export async function startEmbedded(
  config: VigilConfig,
  logger: Logger,
  records: MemoryRecordLog = new MemoryRecordLog(),
  store: StateStore = new MemoryStateStore(),
): Promise<RunningNode & { readonly records: MemoryRecordLog; readonly store: StateStore }> {
  for (const role of TOPIC_NAMES)
    records.createTopic(config.kafka.topics[role], config.kafka.partitions[role]);
  const engine = new Engine({
    config,
    logger,
    consumer: records.consumer(config.kafka.groupId),
    producer: records.producer(),
    store,
  });
  await engine.start();
  const fetchers = startFetchers(
    config,
    logger,
    new MemorySourceStore(),
    () => new MemorySourceWriter(records),
  );
  const notifier = startNotifier(config, logger, () => ({
    outbox: new MemoryOutbox(),
    consumer: records.consumer(`${config.kafka.groupId}.notify`),
    producer: records.producer(),
  }));
  await notifier?.start();
  return {
    engine,
    records,
    store,
    ...(fetchers === undefined ? {} : { fetchers }),
    ...(notifier === undefined ? {} : { notifier }),
    stop: async () => {
      await fetchers?.stop();
      await engine.stop();
      await notifier?.stop();
    },
  };
}
