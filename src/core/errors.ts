/**
 * The one root error of Vigil, and the one table of its codes.
 *
 * Every error Vigil raises or wraps is a VigilError with a code from ERROR_CODES, so callers can ask
 * one question of any failure: is it worth retrying? Retry loops retry only `retriable` errors;
 * everything else surfaces at once with its `cause` chain intact. How a code reaches a client (its
 * gRPC status and HTTP status) is decided here, in the table, and nowhere else: the gRPC and HTTP
 * adapters read it (transport/grpc/status.ts, transport/http/server.ts).
 */

/** A gRPC status by name (core knows no gRPC library; the adapter maps names to numbers). */
export type GrpcStatusName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNIMPLEMENTED'
  | 'ABORTED'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INTERNAL';

/**
 * The HTTP status answering a gRPC status where no Vigil code is known (a stream that ends before it
 * started, say): the mapping of Google's API design guide.
 */
export const HTTP_OF_GRPC: Readonly<Record<GrpcStatusName, number>> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  UNIMPLEMENTED: 501,
  CANCELLED: 499,
  UNKNOWN: 500,
  INTERNAL: 500,
};

interface CodeSpec {
  /** Whether the same operation may succeed if tried again (a broker moved, a connection reset). */
  readonly retriable: boolean;
  readonly grpc: GrpcStatusName;
  readonly http: number;
}

const code = (retriable: boolean, grpc: GrpcStatusName, http: number): CodeSpec => ({
  retriable,
  grpc,
  http,
});

/** Every error code, with its retriability and how it answers a gRPC and an HTTP client. */
export const ERROR_CODES = {
  // Requests that are wrong, whoever sends them.
  USAGE: code(false, 'INVALID_ARGUMENT', 400),
  INVALID_ARGUMENT: code(false, 'INVALID_ARGUMENT', 400),
  CONFIG_INVALID: code(false, 'INVALID_ARGUMENT', 400),
  LOG_PATTERN_INVALID: code(false, 'INVALID_ARGUMENT', 400),
  NOT_FOUND: code(false, 'NOT_FOUND', 404),
  UNIMPLEMENTED: code(false, 'UNIMPLEMENTED', 501),
  UNAUTHENTICATED: code(false, 'UNAUTHENTICATED', 401),
  PERMISSION_DENIED: code(false, 'PERMISSION_DENIED', 403),
  /** A limit (a size, a count, subscriptions) was reached. */
  RESOURCE_EXHAUSTED: code(true, 'RESOURCE_EXHAUSTED', 429),
  PAYLOAD_TOO_LARGE: code(false, 'RESOURCE_EXHAUSTED', 413),
  // Ownership: the cluster moved something; asking again (of the right node) works.
  NOT_OWNER: code(true, 'FAILED_PRECONDITION', 409),
  PARTITION_NOT_OPEN: code(true, 'UNAVAILABLE', 503),
  LEASE_LOST: code(false, 'FAILED_PRECONDITION', 409),
  CHECKPOINT_FENCED: code(false, 'FAILED_PRECONDITION', 409),
  // State that cannot be read: never retried (the same bytes fail the same way).
  CHECKPOINT_CORRUPT: code(false, 'INTERNAL', 500),
  CHECKPOINT_VERSION: code(false, 'INTERNAL', 500),
  // Services.
  REDIS_UNAVAILABLE: code(true, 'UNAVAILABLE', 503),
  REDIS_ERROR: code(false, 'INTERNAL', 500),
  KAFKA_CONNECTION: code(true, 'UNAVAILABLE', 503),
  KAFKA_CONNECTION_CLOSED: code(true, 'UNAVAILABLE', 503),
  KAFKA_REQUEST_TIMEOUT: code(true, 'UNAVAILABLE', 503),
  KAFKA_BROKER_NOT_FOUND: code(true, 'UNAVAILABLE', 503),
  KAFKA_RETRIES_EXCEEDED: code(true, 'UNAVAILABLE', 503),
  KAFKA_LOCK_TIMEOUT: code(true, 'UNAVAILABLE', 503),
  KAFKA_TOPIC_METADATA: code(true, 'UNAVAILABLE', 503),
  KAFKA_NON_RETRIABLE: code(false, 'INTERNAL', 500),
  KAFKA_AGGREGATE: code(false, 'INTERNAL', 500),
  /** The broker refused a record for what it is (too large, invalid): trying again cannot help. */
  KAFKA_RECORD_REFUSED: code(false, 'INVALID_ARGUMENT', 400),
  /** A protocol error of the broker; its own retriable flag decides (see transport/kafka/errors.ts). */
  KAFKA_PROTOCOL: code(false, 'UNAVAILABLE', 503),
  KAFKA_ERROR: code(false, 'INTERNAL', 500),
  ALERTS_TOPIC_PARTITIONS: code(false, 'FAILED_PRECONDITION', 500),
  MQTT_CONNECT: code(true, 'UNAVAILABLE', 503),
  SOURCE_WRITE: code(true, 'UNAVAILABLE', 503),
  TLS_FILES: code(false, 'INTERNAL', 500),
  GRPC_BIND: code(false, 'INTERNAL', 500),
  HTTP_BIND: code(false, 'INTERNAL', 500),
  // Between nodes.
  REMOTING_UNAVAILABLE: code(true, 'UNAVAILABLE', 503),
  REMOTING_TIMEOUT: code(true, 'DEADLINE_EXCEEDED', 504),
  REMOTING_CLOSED: code(true, 'UNAVAILABLE', 503),
  REMOTING_BACKPRESSURE: code(true, 'UNAVAILABLE', 503),
  /** Another node answered with an error; its own gRPC status travels with it (`grpcStatus`). */
  REMOTE_ERROR: code(false, 'UNKNOWN', 502),
  // Notifications.
  DELIVERY_FAILED: code(true, 'UNAVAILABLE', 503),
  DELIVERY_REFUSED: code(false, 'FAILED_PRECONDITION', 502),
  /** A bug: nothing more specific is known. */
  INTERNAL: code(false, 'INTERNAL', 500),
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface VigilErrorOptions {
  /** Overrides the code's retriability (a broker error that says so itself). */
  readonly retriable?: boolean;
  readonly cause?: unknown;
  readonly code?: ErrorCode;
  /** For REMOTE_ERROR: the status another node answered with. */
  readonly grpcStatus?: GrpcStatusName;
}

export class VigilError extends Error {
  readonly retriable: boolean;
  readonly code: ErrorCode;
  /** The gRPC status this error answers with (the table's, or the one a remote node gave). */
  readonly grpcStatus: GrpcStatusName;

  constructor(message: string, options: VigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 'INTERNAL';
    const spec: CodeSpec = ERROR_CODES[this.code];
    this.retriable = options.retriable ?? spec.retriable;
    this.grpcStatus = options.grpcStatus ?? spec.grpc;
  }

  /** The HTTP status this error answers with. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }
}

/** One problem of a configuration: where in the file (`file:line:column`, when known), the key, why. */
export interface ConfigProblem {
  readonly at?: string;
  readonly path: string;
  readonly message: string;
}

/**
 * A configuration file or value is wrong. `path` names the place in the file, e.g. rules[2].above;
 * the message tells the first problem, `problems` every one (`vigil config check` prints them).
 */
export class ConfigError extends VigilError {
  readonly path: string;
  readonly problems: readonly ConfigProblem[];
  constructor(
    path: string,
    message: string,
    options: Omit<VigilErrorOptions, 'code' | 'retriable'> & { problems?: readonly ConfigProblem[] } = {},
  ) {
    const { problems, ...rest } = options;
    super(path === '' ? message : `${path}: ${message}`, { ...rest, code: 'CONFIG_INVALID' });
    this.path = path;
    this.problems = problems ?? [{ path, message }];
  }
}

/** Wraps anything thrown into a VigilError, keeping an existing one as it is. */
export function toVigilError(err: unknown, fallbackMessage = 'unexpected error'): VigilError {
  if (err instanceof VigilError) return err;
  const message = err instanceof Error ? err.message : fallbackMessage;
  return new VigilError(message, { cause: err });
}

/** True when retrying may help: a VigilError that says so (anything else is a bug: never). */
export function isRetriable(err: unknown): boolean {
  return err instanceof VigilError && err.retriable;
}

/**
 * A checkpoint was refused because another owner has taken the partition since (its epoch is newer).
 * Never retriable: the node must drop the partition (it is a "zombie" for it).
 */
export class StaleEpochError extends VigilError {
  constructor(
    readonly partition: string,
    readonly epoch: number,
    readonly currentEpoch: number | undefined,
  ) {
    super(`checkpoint of ${partition} refused: epoch ${epoch} is stale (current ${String(currentEpoch)})`, {
      code: 'CHECKPOINT_FENCED',
    });
  }
}

/** A command for a key reached a node that does not own the key's partition (ownership moved?). */
export class NotOwnedError extends VigilError {
  constructor(
    readonly key: string,
    readonly partition: string,
    readonly node: string,
  ) {
    super(`${key} (partition ${partition}) is not owned by ${node}`, { code: 'NOT_OWNER' });
  }
}
