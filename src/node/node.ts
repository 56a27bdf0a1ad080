import type { VigilConfig } from '../config/load.js';
import { takeLargestMailbox } from '../actors/nact.js';
import type { LogFetchers } from '../actors/log-fetchers.js';
import { Engine } from '../engine/engine.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import { NodeMetrics } from '../obs/metrics.js';
import { MemoryOutbox } from '../ports/memory-outbox.js';
import { MemorySourceStore } from '../ports/memory-source-store.js';
import { MemoryStateStore } from '../ports/memory-state-store.js';
import type { SourceStore } from '../ports/source-store.js';
import type { StateStore } from '../ports/state-store.js';
import { Subscriptions } from '../transport/alert-subscription.js';
import { KafkaAlertLog } from '../transport/kafka/alert-log.js';
import type { Kafka } from 'kafkajs';
import { createKafka, kafkaProbe } from '../transport/kafka/client.js';
import { KafkaRecordConsumer, KafkaRecordProducer } from '../transport/kafka/record-log.js';
import { KafkaSourceWriter } from '../transport/kafka/source-writer.js';
import { ensureTopics, vigilTopics } from '../transport/kafka/topics.js';
import type { Notifier } from '../transport/notify/notifier.js';
import { Membership } from '../transport/redis/membership.js';
import { RedisOutbox } from '../transport/redis/outbox.js';
import { RuntimeRules } from '../transport/redis/runtime-rules.js';
import { RedisSourceStore } from '../transport/redis/source-store.js';
import { RedisStateStore } from '../transport/redis/state-store.js';
import { grpcTokens, startNodeGrpc } from './grpc.js';
import { httpTokens, nodeRoutes, startNodeHttp } from './http.js';
import { localNode } from './local-node.js';
import { Readiness } from './readiness.js';
import type { TokenAuthority } from '../transport/auth.js';
import type { RunningHttpServer } from '../transport/http/server.js';
import { startFetchers } from './log-sources.js';
import { startNotifier } from './notifications.js';
import { startParts, type StartedParts } from './parts.js';

/** A node that stops refreshing its membership lease disappears from the cluster view after this. */
const MEMBERSHIP_LEASE_MS = 6_000;

/** Partitions a node works on at once (kafkajs partitionsConsumedConcurrently). */
const CONCURRENCY = 3;

/** How long a dead fetcher's open transaction may block readers of its vigil.logs partition. */
const FETCH_TRANSACTION_TIMEOUT_MS = 30_000;

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

/** The order a node leaves the cluster in (DrainNode, shutdown): fetchers first, then the engine. */
const LEAVING = ['fetchers', 'engine', 'rules', 'membership'] as const;

/**
 * A cluster node: Kafka for the log, Redis (or memory) for checkpoints. Creates missing topics first.
 * Tokens are checked before anything starts; a part that fails to start stops the ones before it.
 */
export async function startNode(
  config: VigilConfig,
  logger: Logger,
  events: NodeEvents = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningNode> {
  const grpcAuth = config.grpc === undefined ? undefined : grpcTokens(env);
  const httpAuth = config.httpListen === undefined ? undefined : httpTokens(env);
  return startParts(logger, async (parts) => {
    const kafka = createKafka(config.kafka, logger);
    const started: { core?: Core } = {};
    const { readiness, http } = await startProbes(config, logger, kafka, httpAuth, parts, started);
    const core = await startCore(config, logger, kafka, events, parts);
    started.core = core;
    const { engine, membership, rules, store } = core;
    const leave = async (): Promise<void> => {
      for (const name of LEAVING) await parts.stop(name);
    };
    const local = localNode(config.nodeId, engine, core.fetchers, leave, events.onDrained);
    const alertLog = parts.add(
      'alert log',
      new KafkaAlertLog(core.kafka, alertLogOptions(config), logger),
      (a) => a.close(),
    );
    const subscriptions = new Subscriptions({
      perNode: config.limits.subscriptionsPerNode,
      perToken: config.limits.subscriptionsPerToken,
    });
    const grpcConfig = config.grpc;
    const grpc =
      grpcConfig === undefined || grpcAuth === undefined || membership === undefined || rules === undefined
        ? undefined
        : parts.add(
            'grpc',
            await startNodeGrpc({
              config: { ...config, grpc: grpcConfig },
              ...{
                logger,
                store,
                membership,
                rules,
                alertLog,
                subscriptions,
                local,
                expectSensors: (ids) => engine.expectSensors(ids),
                readiness,
                metrics: core.metrics,
                tokens: grpcAuth,
              },
            }),
            (g) => g.stop(),
          );
    http?.serve(
      nodeRoutes({
        ...{ config, logger, engine, store, metrics: core.metrics, local, membership, rules, alertLog },
        ...{ subscriptions, remote: grpc === undefined ? undefined : (m) => grpc.remote(m) },
      }),
    );
    // Alert streams never end by themselves: they are ended first.
    parts.add('subscriptions', subscriptions, (s) => s.closeAll());
    let stopping: Promise<void> | undefined;
    return {
      engine,
      ...(core.fetchers === undefined ? {} : { fetchers: core.fetchers }),
      ...(core.notifier === undefined ? {} : { notifier: core.notifier }),
      ...(grpc === undefined ? {} : { grpcPort: grpc.port }),
      ...(http === undefined ? {} : { httpPort: http.port }),
      stop: () => (stopping ??= parts.stopAll()),
    };
  });
}

/**
 * A node's readiness, and its HTTP server with the probes only, started before anything else: the
 * probes answer from the first moment (a kubelet kills a pod whose liveness probe goes unanswered
 * while it joins the group); the rest of the HTTP API comes once the node is up.
 */
async function startProbes(
  config: VigilConfig,
  logger: Logger,
  kafka: Kafka,
  httpAuth: TokenAuthority | undefined,
  parts: StartedParts,
  started: { readonly core?: Core },
): Promise<{ readiness: Readiness; http: RunningHttpServer | undefined }> {
  const readiness = new Readiness({
    engine: () =>
      started.core === undefined ? 'starting: connecting to Kafka and Redis' : started.core.engine.notReady,
    kafka: parts.add('kafka probe', kafkaProbe(kafka), (p) => p.close()).check,
    store: () => started.core?.store.ping() ?? Promise.resolve(),
  });
  const http =
    config.httpListen === undefined || httpAuth === undefined
      ? undefined
      : parts.add(
          'http',
          await startNodeHttp({ listen: config.httpListen, config, logger, tokens: httpAuth, readiness }),
          (h) => h.stop(),
        );
  return { readiness, http };
}

function alertLogOptions(config: VigilConfig): ConstructorParameters<typeof KafkaAlertLog>[1] {
  return {
    topic: config.kafka.topics.alerts,
    groupPrefix: `${config.kafka.groupId}.alerts.${config.nodeId}.`,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
  };
}

/**
 * The processing half of a node: stores, membership, the engine, runtime rules, log fetchers and the
 * notifier, each recorded in `parts` as it starts.
 */
type Core = Awaited<ReturnType<typeof startCore>>;

async function startCore(
  config: VigilConfig,
  logger: Logger,
  kafka: Kafka,
  events: NodeEvents,
  parts: StartedParts,
) {
  await ensureTopics(kafka, vigilTopics(config.kafka, config.limits), logger);
  const redis = config.checkpoint.store === 'redis';
  const store: StateStore = parts.add(
    'store',
    redis
      ? new RedisStateStore({
          ...config.redis,
          logger,
          rollupTtlMs: config.rollupTtlMs,
          rawTtlMs: config.rawTtlMs,
        })
      : new MemoryStateStore(),
    (s) => s.close(),
  );
  const sourceStore: SourceStore = parts.add(
    'source store',
    redis ? new RedisSourceStore({ ...config.redis, logger }) : new MemorySourceStore(),
    (s) => s.close(),
  );
  // Membership and runtime rules come with the cluster: when the node serves gRPC, other nodes need
  // its address to reach it.
  const membership =
    config.grpc === undefined ? undefined : new Membership(membershipOptions(config), logger);
  if (membership !== undefined) {
    await membership.start();
    parts.add('membership', membership, (m) => m.stop());
  }
  const metrics = new NodeMetrics(config.nodeId);
  const engine = newEngine(
    config,
    logger,
    kafka,
    { store, leases: sourceStore },
    membership,
    metrics,
    events,
  );
  const rules =
    config.grpc === undefined
      ? undefined
      : new RuntimeRules(
          {
            ...config.redis,
            base: config.pipeline.rules,
            pipeline: {
              windows: config.pipeline.windows.map((w) => w.name),
              aggregates: config.pipeline.window.aggregates,
            },
          },
          (next, version) => {
            engine.setRules(next);
            logger.info({ version, rules: next.map((r) => r.id) }, 'rules in force');
          },
          logger,
        );
  if (rules !== undefined) {
    await rules.start();
    parts.add('rules', rules, (r) => r.stop());
  }
  await engine.start();
  parts.add('engine', engine, (e) => e.stop());
  metrics.bind({
    partitions: () => engine.partitions.map((p) => ({ ...p })),
    actors: () => engine.actorCount,
    takeLargestMailbox,
  });
  const { fetchers, notifier } = await startEdges(config, logger, kafka, sourceStore, metrics, parts);
  return { kafka, store, membership, rules, engine, metrics, fetchers, notifier };
}

/** The engine of a cluster node: Kafka consumer group and producer, partitions published to the membership. */
function newEngine(
  config: VigilConfig,
  logger: Logger,
  kafka: Kafka,
  { store, leases }: { store: StateStore; leases: SourceStore },
  membership: Membership | undefined,
  metrics: NodeMetrics,
  events: NodeEvents,
): Engine {
  return new Engine({
    config,
    logger,
    metrics,
    consumer: new KafkaRecordConsumer(
      kafka,
      consumerOptions(config, config.kafka.groupId, CONCURRENCY),
      logger,
    ),
    producer: new KafkaRecordProducer(kafka, { compression: config.kafka.compression }),
    store,
    leases,
    ...(membership === undefined
      ? {}
      : {
          onAssignment: (assigned: readonly string[]) => {
            membership.setPartitions(assigned).catch((err: unknown) => {
              logger.warn({ err }, 'publishing partitions failed');
            });
          },
        }),
    ...(events.onFatal === undefined ? {} : { onFatal: events.onFatal }),
  });
}

/** Log fetchers and the notifier, when configured. */
async function startEdges(
  config: VigilConfig,
  logger: Logger,
  kafka: Kafka,
  sourceStore: SourceStore,
  metrics: NodeMetrics,
  parts: StartedParts,
): Promise<{ fetchers: LogFetchers | undefined; notifier: Notifier | undefined }> {
  const redis = config.checkpoint.store === 'redis';
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
          compression: config.kafka.compression,
        },
        componentLogger(logger, 'logs', { source: source.id }),
      ),
    metrics,
  );
  if (fetchers !== undefined) parts.add('fetchers', fetchers, (f) => f.stop());
  const notifier = startNotifier(
    config,
    logger,
    () => ({
      outbox: redis ? new RedisOutbox({ ...config.redis, logger }) : new MemoryOutbox(),
      consumer: new KafkaRecordConsumer(
        kafka,
        consumerOptions(config, `${config.kafka.groupId}.notify`, 1),
        logger,
      ),
      producer: new KafkaRecordProducer(kafka, { compression: config.kafka.compression }),
    }),
    metrics,
  );
  if (notifier !== undefined) {
    await notifier.start();
    parts.add('notifier', notifier, (n) => n.stop());
  }
  return { fetchers, notifier };
}

function membershipOptions(config: VigilConfig): ConstructorParameters<typeof Membership>[0] {
  return {
    ...config.redis,
    nodeId: config.nodeId,
    address: config.grpc?.advertise ?? '',
    leaseMs: MEMBERSHIP_LEASE_MS,
  };
}

function consumerOptions(config: VigilConfig, groupId: string, concurrency: number) {
  return { groupId, sessionTimeoutMs: config.kafka.sessionTimeoutMs, concurrency };
}

export { startEmbedded } from './embedded.js';
