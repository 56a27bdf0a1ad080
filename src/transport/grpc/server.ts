import {
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { NodeMetrics } from '../../obs/metrics.js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import { readPem } from '../tls.js';
import { reflectableDefinition } from './reflection.js';
import type { TokenAuthority } from '../auth.js';
import { LOADER_OPTIONS, loadVigilProto, type VigilGrpc } from './proto.js';

/** How long stopping waits for calls in flight before cancelling them. */
const SHUTDOWN_GRACE_MS = 5_000;

/** mTLS material: the cluster's CA (client certificates must chain to it), and this node's pair. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface GrpcServerOptions {
  readonly address: string;
  /** mTLS (the default and the only production setting) or, explicitly, plain text for development. */
  readonly security: { readonly tls: TlsFiles } | { readonly insecureDevelopmentOnly: true };
  readonly tokens: TokenAuthority;
  readonly logger: Logger;
  /** Counts every call by method and status code. */
  readonly metrics?: NodeMetrics;
  /**
   * Whether the node is ready to work: the health service answers NOT_SERVING until it is, and again
   * once it is not (draining), checked every second. Unset: SERVING from the start.
   */
  readonly ready?: () => Promise<boolean>;
}

export interface RunningGrpcServer {
  readonly server: Server;
  readonly port: number;
  readonly grpc: VigilGrpc;
  readonly health: HealthImplementation;
  stop(): Promise<void>;
}

/** Rejects a call before its handler runs unless its bearer token's role may call the method. */
export function authInterceptor(tokens: TokenAuthority): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const header = metadata.get('authorization')[0];
            const verdict = tokens.authorize(method.path, typeof header === 'string' ? header : undefined);
            if (verdict.ok) proceed(metadata);
            else call.sendStatus({ code: verdict.code, details: verdict.details });
          },
        });
      },
    });
}

/** Counts each call by method and the status it ended with (refusals by the auth interceptor too). */
export function metricsInterceptor(metrics: NodeMetrics): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      sendStatus: (s, next) => {
        metrics.grpcCalls.inc({ method: method.path, code: status[s.code] });
        next(s);
      },
    });
}

function credentials(security: GrpcServerOptions['security']): ServerCredentials {
  if ('insecureDevelopmentOnly' in security) return ServerCredentials.createInsecure();
  const { ca, cert, key } = security.tls;
  // checkClientCertificate: a peer without a certificate signed by the cluster CA is refused.
  return ServerCredentials.createSsl(
    readPem(ca),
    [{ cert_chain: readPem(cert), private_key: readPem(key) }],
    true,
  );
}

/** The services of a package definition (message and enum types carry a `format`). */
function serviceNames(definition: PackageDefinition): string[] {
  return Object.entries(definition)
    .filter(([, d]) => !('format' in d))
    .map(([name]) => name);
}

/**
 * The gRPC server of a node: Vigil's services (added by the caller), the standard health service and
 * server reflection (so stock tools work), bearer-token roles on every call, mTLS unless explicitly
 * started for development in plain text.
 */
export async function startGrpcServer(
  options: GrpcServerOptions,
  register: (server: Server, grpc: VigilGrpc) => void,
): Promise<RunningGrpcServer> {
  const { definition, grpc } = loadVigilProto();
  const server = new Server({
    interceptors: [
      ...(options.metrics === undefined ? [] : [metricsInterceptor(options.metrics)]),
      authInterceptor(options.tokens),
    ],
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  register(server, grpc);
  // Health answers for the server ('') and for every service it serves, as stock clients ask by name.
  const served = ['', ...serviceNames(definition), 'grpc.health.v1.Health'];
  const initial = options.ready === undefined ? ('SERVING' as const) : ('NOT_SERVING' as const);
  const health = new HealthImplementation(Object.fromEntries(served.map((n) => [n, initial])));
  health.addToServer(server);
  const ready = options.ready;
  const follow =
    ready === undefined
      ? undefined
      : setInterval(() => {
          ready().then(
            (yes) => {
              for (const n of served) health.setStatus(n, yes ? 'SERVING' : 'NOT_SERVING');
            },
            () => undefined,
          );
        }, 1_000);
  const healthDefinition: PackageDefinition = loadSync(healthProtoPath, LOADER_OPTIONS);
  new ReflectionService(reflectableDefinition({ ...definition, ...healthDefinition })).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, credentials(options.security), (err, bound) => {
      if (err === null) resolve(bound);
      else
        reject(
          new VigilError(`cannot listen on ${options.address}: ${err.message}`, {
            code: 'GRPC_BIND',
            cause: err,
          }),
        );
    });
  });
  if ('insecureDevelopmentOnly' in options.security)
    options.logger.warn({ address: options.address }, 'gRPC in PLAIN TEXT (development only)');
  options.logger.info({ address: options.address, port }, 'gRPC server listening');
  return {
    server,
    port,
    grpc,
    health,
    stop: () =>
      new Promise<void>((resolve) => {
        if (follow !== undefined) clearInterval(follow);
        for (const n of served) health.setStatus(n, 'NOT_SERVING');
        // Calls in flight get a grace period to finish; then they are cancelled (a client that
        // never half-closes a stream must not keep the node from stopping).
        const grace = setTimeout(() => {
          options.logger.warn(
            { graceMs: SHUTDOWN_GRACE_MS },
            'gRPC calls still open after the grace period: cancelled',
          );
          server.forceShutdown();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(grace);
          resolve();
        });
      }),
  };
}
