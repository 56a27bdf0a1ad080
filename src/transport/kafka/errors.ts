import { VigilError, type ErrorCode } from '../../core/errors.js';

/**
 * kafkajs error names mapped to Vigil's codes. kafkajs sets `retriable` on protocol errors itself;
 * this table covers the client-side errors whose retriability matters to Vigil's own retry loops.
 */
const KAFKAJS_ERRORS: Readonly<Record<string, ErrorCode>> = {
  KafkaJSConnectionError: 'KAFKA_CONNECTION',
  KafkaJSConnectionClosedError: 'KAFKA_CONNECTION_CLOSED',
  KafkaJSRequestTimeoutError: 'KAFKA_REQUEST_TIMEOUT',
  KafkaJSBrokerNotFound: 'KAFKA_BROKER_NOT_FOUND',
  KafkaJSNumberOfRetriesExceeded: 'KAFKA_RETRIES_EXCEEDED',
  KafkaJSLockTimeout: 'KAFKA_LOCK_TIMEOUT',
  KafkaJSNonRetriableError: 'KAFKA_NON_RETRIABLE',
  KafkaJSTopicMetadataNotLoaded: 'KAFKA_TOPIC_METADATA',
  KafkaJSAggregateError: 'KAFKA_AGGREGATE',
};

/**
 * Broker errors about a record itself: the same record is refused the same way every time, so it is
 * never retried; it goes to the dead-letter topic instead (cut if large).
 */
const RECORD_REFUSED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);

interface KafkaJsLike {
  readonly name?: string;
  readonly message?: string;
  readonly retriable?: boolean;
  readonly type?: string;
  readonly cause?: unknown;
}

/** The broker's own error type, wherever kafkajs wrapped it (NonRetriable, RetriesExceeded). */
function protocolType(err: KafkaJsLike): string | undefined {
  let e: KafkaJsLike | undefined = err;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    if (e.type !== undefined) return e.type;
    e = typeof e.cause === 'object' && e.cause !== null ? e.cause : undefined;
  }
  return undefined;
}

/** Wraps a kafkajs error in a VigilError with a code from the table and the right retriability. */
export function fromKafkaError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as KafkaJsLike;
  const type = protocolType(e);
  const message = `${what}: ${e.message ?? String(err)}${type === undefined ? '' : ` (${type})`}`;
  if (type !== undefined && RECORD_REFUSED.has(type))
    return new VigilError(message, { code: 'KAFKA_RECORD_REFUSED', cause: err });
  const mapped = e.name === undefined ? undefined : KAFKAJS_ERRORS[e.name];
  const code: ErrorCode = mapped ?? (e.type === undefined ? 'KAFKA_ERROR' : 'KAFKA_PROTOCOL');
  return new VigilError(message, {
    code,
    ...(mapped === undefined ? { retriable: e.retriable ?? false } : {}),
    cause: err,
  });
}
