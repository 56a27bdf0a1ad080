/**
 * The one root error of Vigil. Every error Vigil raises or wraps is a VigilError, so callers can ask
 * one question of any failure: is it worth retrying? Retry loops retry only `retriable` errors;
 * everything else surfaces at once with its `cause` chain intact.
 */
export interface VigilErrorOptions {
  /** True when the same operation may succeed if tried again (broker moved, connection reset). */
  readonly retriable?: boolean;
  readonly cause?: unknown;
  /** A stable machine-readable code, e.g. CONFIG_INVALID, KAFKA_LEADER_NOT_AVAILABLE. */
  readonly code?: string;
}

export class VigilError extends Error {
  readonly retriable: boolean;
  readonly code: string;

  constructor(message: string, options: VigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.code = options.code ?? 'VIGIL_ERROR';
  }
}

/** A configuration file or value is wrong. `path` names the place in the file, e.g. rules[2].above. */
export class ConfigError extends VigilError {
  readonly path: string;
  constructor(path: string, message: string, options: Omit<VigilErrorOptions, 'code' | 'retriable'> = {}) {
    super(path === '' ? message : `${path}: ${message}`, { ...options, code: 'CONFIG_INVALID' });
    this.path = path;
  }
}

/** Wraps anything thrown into a VigilError, keeping an existing one as it is. */
export function toVigilError(err: unknown, fallbackMessage = 'unexpected error'): VigilError {
  if (err instanceof VigilError) return err;
  const message = err instanceof Error ? err.message : fallbackMessage;
  return new VigilError(message, { cause: err });
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
      retriable: false,
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
    super(`${key} (partition ${partition}) is not owned by ${node}`, { code: 'NOT_OWNER', retriable: true });
  }
}
