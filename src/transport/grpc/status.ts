import { status, type ServiceError } from '@grpc/grpc-js';
import { VigilError, type ErrorCode, type GrpcStatusName } from '../../core/errors.js';

/**
 * The gRPC status of anything a handler throws: a VigilError answers with its code's status (the one
 * table, core/errors.ts ERROR_CODES, or the status a remote node gave); a ServiceError keeps its own;
 * anything else is a bug: INTERNAL.
 */
export function statusOf(err: unknown): { code: status; details: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof VigilError) return { code: status[err.grpcStatus], details: message };
  const e = err as Partial<ServiceError>;
  if (typeof e.code === 'number') return { code: e.code, details: e.details ?? message };
  return { code: status.INTERNAL, details: message };
}

/** The name of a gRPC status number (UNKNOWN for a number gRPC does not define). */
export function statusName(code: number): GrpcStatusName {
  const name = status[code];
  return (name ?? 'UNKNOWN') as GrpcStatusName;
}

/** A VigilError as gRPC sees it: with its status as a number too (e.g. a remote node's reply). */
export class GrpcCallError extends VigilError {
  get grpcCode(): status {
    return status[this.grpcStatus];
  }
}

/** An error that answers a call with one of the table's codes. */
export function callError(code: ErrorCode, message: string): GrpcCallError {
  return new GrpcCallError(message, { code });
}
