import type { VigilConfig } from '../config/load.js';
import { TOPIC_NAMES } from '../config/load.js';
import { MemoryLog } from '../log/memory-log.js';
import type { Logger } from '../log.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { RedisStateStore } from '../state/redis-store.js';
import type { StateStore } from '../state/store.js';
import { createKafka } from '../transport/kafka/client.js';
import { KafkaLogConsumer, KafkaLogProducer } from '../transport/kafka/kafka-log.js';
import { ensureTopics } from '../transport/kafka/topics.js';
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { Membership } from '../cluster/membership.js';
import { RuntimeRules } from '../cluster/rules.js';
import type { ControlClient } from '../gen/vigil/v1/Control.js';
import { loadVigilProto } from '../transport/grpc/proto.js';
import { ConfigError } from '../errors.js';
import { TokenAuthority } from '../transport/grpc/auth.js';
import { addAlertsService, type AlertsService } from '../transport/grpc/alerts-service.js';
import { addControlService } from '../transport/grpc/control-service.js';
import { KafkaAlertLog } from '../transport/kafka/alert-log.js';
import type { AlertLog } from '../log/log.js';
import { addQueryService } from '../transport/grpc/query-service.js';
import { startGrpcServer, type RunningGrpcServer } from '../transport/grpc/server.js';
import { Engine } from './engine.js';

/** A node that stops refreshing its membership lease disappears from the cluster view after this. */
const MEMBERSHIP_LEASE_MS = 6_000;

/** Partitions a node works on at once (kafkajs partitionsConsumedConcurrently). */
const CONCURRENCY = 3;

export interface RunningNode {
  readonly engine: Engine;
  /** The bound gRPC port, when the node serves gRPC. */
  readonly grpcPort?: number;
  stop(): Promise<void>;
}

/**
 * Starts the node's gRPC server (health, reflection, Control, Query) when the config asks for one.
 * Bearer tokens come from VIGIL_TOKENS ("admin=…,viewer=…,node=…"), never from the config file.
 */
async function startGrpc(
  config: VigilConfig,
  logger: Logger,
  engine: Engine,
  store: StateStore,
  membership: Membership | undefined,
  rules: RuntimeRules | undefined,
  alertLog: AlertLog,
  env: NodeJS.ProcessEnv,
): Promise<{ server: RunningGrpcServer; alerts: AlertsService } | undefined> {
  if (config.grpc === undefined) return undefined;
  const spec = env['VIGIL_TOKENS'];
  if (spec === undefined || spec.trim() === '') {
    throw new ConfigError(
      'VIGIL_TOKENS',
      'gRPC is configured but no tokens are: set VIGIL_TOKENS="admin=<token>,viewer=<token>"',
    );
  }
  const { listen, security } = config.grpc;
  const peers = new PeerClients(security);
  let alerts: AlertsService | undefined;
  const server = await startGrpcServer(
    { address: listen, security, tokens: TokenAuthority.parse(spec), logger },
    (server, grpc) => {
      addControlService(server, grpc, {
        nodeId: config.nodeId,
        address: listen,
        partitions: () => engine.partitions,
        members: () =>
          membership?.members() ??
          Promise.resolve([
            {
              id: config.nodeId,
              address: listen,
              partitions: engine.partitions.map((p) => p.partition),
              expiresAt: Number.MAX_SAFE_INTEGER,
            },
          ]),
        crashSensor: (sensorId) => engine.crashSensor(sensorId),
        inspectSensor: (sensorId) => engine.inspectSensor(sensorId),
        controlSensor: (sensorId, command) => engine.controlSensor(sensorId, command),
        ownerOf: async (sensorId) =>
          membership?.ownerOf(sensorId, config.kafka.topics.readings, config.kafka.partitions.readings),
        peer: (address) => peers.get(address),
        ...(rules === undefined ? {} : { rules }),
      });
      addQueryService(server, grpc, (sensorId, metric, from, to) =>
        store.rollups(sensorId, metric, from, to),
      );
      alerts = addAlertsService(server, grpc, alertLog, logger.child({ component: 'alerts' }));
    },
  );
  if (alerts === undefined) throw new Error('unreachable: the services are registered synchronously');
  return { server, alerts };
}

/**
 * Control clients to the other nodes, one per address, authenticated with this node's own
 * certificate (node certificates are valid for client use too).
 */
class PeerClients {
  private readonly clients = new Map<string, ControlClient>();
  private readonly credentials: ChannelCredentials;
  private readonly Control = loadVigilProto().grpc.vigil.v1.Control;

  constructor(security: NonNullable<VigilConfig['grpc']>['security']) {
    this.credentials =
      'tls' in security
        ? credentials.createSsl(
            readFileSync(security.tls.ca),
            readFileSync(security.tls.key),
            readFileSync(security.tls.cert),
          )
        : credentials.createInsecure();
  }

  get(address: string): ControlClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      // Peers are addressed by IP; their certificates name localhost as well (cluster/certs.sh).
      client = new this.Control(address, this.credentials, { 'grpc.ssl_target_name_override': 'localhost' });
      this.clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** A cluster node: Kafka for the log, Redis (or memory) for checkpoints. Creates missing topics first. */
export async function startNode(
  config: VigilConfig,
  logger: Logger,
  onFatal?: (error: Error) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningNode> {
  const kafka = createKafka(config.kafka, logger);
  const { topics, partitions } = config.kafka;
  await ensureTopics(
    kafka,
    TOPIC_NAMES.map((role) => ({ topic: topics[role], numPartitions: partitions[role] })),
    logger,
  );
  const store: StateStore =
    config.checkpoint.store === 'redis'
      ? new RedisStateStore({
          url: config.redis.url,
          keyPrefix: config.redis.keyPrefix,
          rollupTtlMs: config.rollupTtlMs,
        })
      : new MemoryStateStore();
  // Membership is published when the node serves gRPC (other nodes need its address to reach it).
  const membership =
    config.grpc === undefined
      ? undefined
      : new Membership(
          {
            url: config.redis.url,
            keyPrefix: config.redis.keyPrefix,
            nodeId: config.nodeId,
            address: config.grpc.listen,
            leaseMs: MEMBERSHIP_LEASE_MS,
          },
          logger,
        );
  const engine = new Engine({
    config,
    logger,
    ...(membership === undefined
      ? {}
      : {
          onAssignment: (partitions: readonly string[]) => {
            membership.setPartitions(partitions).catch((err: unknown) => {
              logger.warn({ err }, 'publishing partitions failed');
            });
          },
        }),
    consumer: new KafkaLogConsumer(
      kafka,
      {
        groupId: config.kafka.groupId,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        concurrency: CONCURRENCY,
      },
      logger,
    ),
    producer: new KafkaLogProducer(kafka),
    store,
    ...(onFatal === undefined ? {} : { onFatal }),
  });
  // Runtime rules (shared in Redis) come with the cluster, like membership.
  const rules =
    config.grpc === undefined
      ? undefined
      : new RuntimeRules(
          { url: config.redis.url, keyPrefix: config.redis.keyPrefix, base: config.pipeline.rules },
          (next, version) => {
            engine.setRules(next);
            logger.info({ version, rules: next.map((r) => r.id) }, 'rules in force');
          },
          logger,
        );
  await membership?.start();
  await rules?.start();
  await engine.start();
  const alertLog = new KafkaAlertLog(
    kafka,
    {
      topic: topics.alerts,
      groupPrefix: `${config.kafka.groupId}.alerts.${config.nodeId}.`,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    },
    logger,
  );
  const grpc = await startGrpc(config, logger, engine, store, membership, rules, alertLog, env);
  return {
    engine,
    ...(grpc === undefined ? {} : { grpcPort: grpc.server.port }),
    stop: async () => {
      // Subscriptions are endless streams: end them first, or the server would wait on them.
      await grpc?.alerts.close();
      await grpc?.server.stop();
      await alertLog.close();
      await engine.stop();
      await rules?.stop();
      await membership?.stop();
      await store.close();
    },
  };
}

/** Embedded mode: the same engine over an in-memory log and state store, in this process only. */
export async function startEmbedded(
  config: VigilConfig,
  logger: Logger,
  log: MemoryLog = new MemoryLog(),
  store: StateStore = new MemoryStateStore(),
): Promise<RunningNode & { readonly log: MemoryLog; readonly store: StateStore }> {
  for (const role of TOPIC_NAMES) log.createTopic(config.kafka.topics[role], config.kafka.partitions[role]);
  const engine = new Engine({
    config,
    logger,
    consumer: log.consumer(config.kafka.groupId),
    producer: log.producer(),
    store,
  });
  await engine.start();
  return { engine, log, store, stop: () => engine.stop() };
}
