import { readFileSync } from 'node:fs';
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { VigilError, type GrpcStatusName } from '../core/errors.js';
import type { AlertsClient } from '../gen/vigil/v1/Alerts.js';
import type { ControlClient } from '../gen/vigil/v1/Control.js';
import type { QueryClient } from '../gen/vigil/v1/Query.js';
import { loadVigilProto } from '../transport/grpc/proto.js';

/** How the CLI reaches a node: address, TLS files or explicit plain text, and the caller's token. */
export interface Connection {
  readonly address: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecure?: boolean;
  /** From VIGIL_TOKEN, never a command-line argument (it would show in `ps`). */
  readonly token: string | undefined;
}

/** gRPC status codes -> CLI exit codes, one table (see README, "Command line"). */
export const EXIT_FOR_STATUS: Readonly<Partial<Record<status, number>>> = {
  [status.INVALID_ARGUMENT]: 2,
  [status.UNAUTHENTICATED]: 3,
  [status.PERMISSION_DENIED]: 3,
  [status.UNAVAILABLE]: 4,
  [status.DEADLINE_EXCEEDED]: 4,
  [status.NOT_FOUND]: 5,
  [status.FAILED_PRECONDITION]: 5,
  [status.UNIMPLEMENTED]: 6,
};

export function channel(c: Connection): ChannelCredentials {
  if (c.insecure === true) return credentials.createInsecure();
  if (c.ca === undefined || c.cert === undefined || c.key === undefined) {
    throw new VigilError('give --ca, --cert and --key (mTLS), or --insecure for a development node', {
      code: 'USAGE',
    });
  }
  return credentials.createSsl(readFileSync(c.ca), readFileSync(c.key), readFileSync(c.cert));
}

export function clients(c: Connection): {
  control: ControlClient;
  query: QueryClient;
  alerts: AlertsClient;
  metadata: Metadata;
} {
  const { grpc } = loadVigilProto();
  const creds = channel(c);
  const metadata = new Metadata();
  if (c.token !== undefined) metadata.set('authorization', `Bearer ${c.token}`);
  return {
    control: new grpc.vigil.v1.Control(c.address, creds),
    query: new grpc.vigil.v1.Query(c.address, creds),
    alerts: new grpc.vigil.v1.Alerts(c.address, creds),
    metadata,
  };
}

/** A gRPC error as a VigilError that keeps the status (exitCodeOf maps it). */
export function fromServiceError(err: ServiceError): VigilError {
  const name = status[err.code] as GrpcStatusName;
  return new VigilError(`${name}: ${err.details}`, {
    code: 'REMOTE_ERROR',
    grpcStatus: name,
    retriable: name === 'UNAVAILABLE' || name === 'DEADLINE_EXCEEDED',
    cause: err,
  });
}

/** Calls a unary method with a deadline; a gRPC error becomes a VigilError carrying the status. */
export function unary<Req, Res>(
  fn: (
    req: Req,
    md: Metadata,
    options: { deadline: Date },
    cb: (err: ServiceError | null, res?: Res) => void,
  ) => unknown,
  request: Req,
  metadata: Metadata,
  timeoutMs = 10_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, metadata, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
      if (err !== null) reject(fromServiceError(err));
      else resolve(res as Res);
    });
  });
}

export function exitCodeOf(err: unknown): number | undefined {
  const cause = (err as { cause?: ServiceError }).cause;
  return cause?.code === undefined ? undefined : EXIT_FOR_STATUS[cause.code];
}
