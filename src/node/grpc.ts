import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { Membership } from '../transport/redis/membership.js';
import type { NodeRef } from '../ports/node-ref.js';
import { nodeCommandHandler, RemoteNode } from '../transport/grpc/remote-node.js';
import type { RuntimeRules } from '../transport/redis/runtime-rules.js';
import { querySettings, type VigilConfig } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import type { AlertLog } from '../ports/record-log.js';
import type { Subscriptions } from '../transport/alert-subscription.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import type { StateStore } from '../ports/state-store.js';
import { addAlertsService, type AlertsService } from '../transport/grpc/alerts-service.js';
import { parseTokenSpec, TokenAuthority } from '../transport/auth.js';
import { addControlService } from '../transport/grpc/control-service.js';
import { loadVigilProto, type VigilGrpc } from '../transport/grpc/proto.js';
import { addQueryService } from '../transport/grpc/query-service.js';
import { addRemotingService, RemoteLink } from '../transport/grpc/remoting.js';
import { startGrpcServer, type RunningGrpcServer } from '../transport/grpc/server.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { Readiness } from './readiness.js';

type GrpcConfig = NonNullable<VigilConfig['grpc']>;

/** What the gRPC side of a node needs from the rest of it. */
export interface NodeParts {
  readonly config: VigilConfig & { readonly grpc: GrpcConfig };
  readonly logger: Logger;
  readonly store: StateStore;
  readonly membership: Membership;
  readonly rules: RuntimeRules;
  readonly alertLog: AlertLog;
  /** The node's alert subscriptions (gRPC and HTTP streams share the limits). */
  readonly subscriptions: Subscriptions;
  /** This node's commands (its engine, its drain), as the control plane and peers call them. */
  readonly local: NodeRef;
  /** Declares sensors expected to report (the engine's expect records). */
  readonly expectSensors: (sensorIds: readonly string[]) => Promise<void>;
  /** The health service follows it: NOT_SERVING until the node is ready, and while it drains. */
  readonly readiness: Readiness;
  /** VIGIL_TOKENS, checked before the node started anything (grpcTokens). */
  readonly tokens: { readonly authority: TokenAuthority; readonly nodeToken: string };
  readonly metrics?: NodeMetrics;
}

export interface NodeGrpc {
  readonly port: number;
  /** Another node, over this node's Remoting link to it. */
  remote(member: { id: string; address: string }): NodeRef;
  stop(): Promise<void>;
}

/**
 * Remoting links to the other nodes, one per address, authenticated with this node's certificate
 * (node certificates are valid for client use too) and its `node` token.
 */
class PeerLinks {
  private readonly links = new Map<string, RemoteLink>();
  private readonly credentials: ChannelCredentials;

  constructor(
    private readonly grpc: VigilGrpc,
    security: GrpcConfig['security'],
    private readonly nodeId: string,
    private readonly token: string,
    private readonly logger: Logger,
  ) {
    this.credentials =
      'tls' in security
        ? credentials.createSsl(
            readFileSync(security.tls.ca),
            readFileSync(security.tls.key),
            readFileSync(security.tls.cert),
          )
        : credentials.createInsecure();
  }

  node(member: { id: string; address: string }): NodeRef {
    let link = this.links.get(member.address);
    if (link === undefined) {
      link = new RemoteLink(this.grpc, {
        nodeId: this.nodeId,
        address: member.address,
        credentials: this.credentials,
        token: this.token,
        logger: this.logger,
      });
      this.links.set(member.address, link);
    }
    return new RemoteNode(member.id, link);
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}

/** Tokens from VIGIL_TOKENS, and this node's own `node` token, which it presents to its peers. */
export function grpcTokens(env: NodeJS.ProcessEnv): { authority: TokenAuthority; nodeToken: string } {
  const spec = env['VIGIL_TOKENS'];
  if (spec === undefined || spec.trim() === '')
    throw new ConfigError(
      'VIGIL_TOKENS',
      'gRPC is configured but no tokens are: set VIGIL_TOKENS="admin=<token>,viewer=<token>,node=<token>"',
    );
  const pairs = parseTokenSpec(spec);
  const nodeToken = pairs.find(([role]) => role === 'node')?.[1];
  if (nodeToken === undefined)
    throw new ConfigError('VIGIL_TOKENS', 'needs a node=<token>: nodes present it to each other (Remoting)');
  return { authority: new TokenAuthority(pairs), nodeToken };
}

/**
 * Starts a node's gRPC server: Control, Query, Alerts, Remoting, health and reflection. Bearer tokens
 * come from VIGIL_TOKENS, never from the config file.
 */
export async function startNodeGrpc(parts: NodeParts): Promise<NodeGrpc> {
  const { config, logger } = parts;
  const { listen, security } = config.grpc;
  const { authority, nodeToken } = parts.tokens;
  const { local } = parts;
  const peers = new PeerLinks(
    loadVigilProto().grpc,
    security,
    config.nodeId,
    nodeToken,
    componentLogger(logger, 'remoting'),
  );
  let alerts: AlertsService | undefined;
  let remoting: { close(): void } | undefined;
  const server: RunningGrpcServer = await startGrpcServer(
    {
      address: listen,
      security,
      tokens: authority,
      logger,
      ready: async () => (await parts.readiness.reasons()).length === 0,
      ...(parts.metrics === undefined ? {} : { metrics: parts.metrics }),
    },
    (s, grpc) => {
      addControlService(s, grpc, {
        nodeId: config.nodeId,
        members: () => parts.membership.members(),
        ownerOf: (sensorId) =>
          parts.membership.ownerOf(sensorId, config.kafka.topics.readings, config.kafka.partitions.readings),
        local,
        remote: (member) => peers.node(member),
        rules: parts.rules,
        expectSensors: parts.expectSensors,
      });
      addQueryService(s, grpc, parts.store, querySettings(config));
      alerts = addAlertsService(
        s,
        grpc,
        parts.alertLog,
        parts.subscriptions,
        componentLogger(logger, 'alerts'),
      );
      remoting = addRemotingService(
        s,
        grpc,
        config.nodeId,
        nodeCommandHandler(local),
        componentLogger(logger, 'remoting'),
      );
    },
  );
  return {
    port: server.port,
    remote: (member) => peers.node(member),
    stop: async () => {
      // Subscriptions and peer streams never end by themselves: end them, or shutdown would wait.
      await alerts?.close();
      remoting?.close();
      peers.close();
      await server.stop();
    },
  };
}
