import { status, type ServiceError } from '@grpc/grpc-js';
import { ConfigError, NotOwnedError } from '../../core/errors.js';

/** Vigil's errors -> gRPC status codes, one table. */
const STATUS_FOR_ERROR: readonly (readonly [abstract new (...args: never[]) => Error, status])[] = [
  [NotOwnedError, status.FAILED_PRECONDITION],
  [ConfigError, status.INVALID_ARGUMENT],
];

/**
 * The gRPC status of anything a handler throws: a Vigil error by the table, an error that carries a
 * status already (a ServiceError, or `grpcCode` set by whoever knew it, e.g. a remote node's reply),
 * INTERNAL for the rest.
 */
export function statusOf(err: unknown): { code: status; details: string } {
  const message = err instanceof Error ? err.message : String(err);
  for (const [type, code] of STATUS_FOR_ERROR) if (err instanceof type) return { code, details: message };
  const e = err as Partial<ServiceError> & { grpcCode?: status };
  if (e.grpcCode !== undefined) return { code: e.grpcCode, details: message };
  if (typeof e.code === 'number') return { code: e.code, details: e.details ?? message };
  return { code: status.INTERNAL, details: message };
}

/** An error that answers a call with `code`. */
export function statusError(code: status, message: string): Error & { grpcCode: status } {
  return Object.assign(new Error(message), { grpcCode: code });
}
