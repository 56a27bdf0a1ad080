import { VigilError } from '../../core/errors.js';

/**
 * kafkajs error names mapped to Vigil's view of them. kafkajs sets `retriable` on protocol errors itself;
 * this table covers the client-side errors whose retriability matters to Vigil's own retry loops.
 * Anything not listed keeps kafkajs' own `retriable` flag (false when absent).
 */
const KAFKAJS_ERRORS: Readonly<Record<string, { readonly code: string; readonly retriable: boolean }>> = {
  KafkaJSConnectionError: { code: 'KAFKA_CONNECTION', retriable: true },
  KafkaJSConnectionClosedError: { code: 'KAFKA_CONNECTION_CLOSED', retriable: true },
  KafkaJSRequestTimeoutError: { code: 'KAFKA_REQUEST_TIMEOUT', retriable: true },
  KafkaJSBrokerNotFound: { code: 'KAFKA_BROKER_NOT_FOUND', retriable: true },
  KafkaJSNumberOfRetriesExceeded: { code: 'KAFKA_RETRIES_EXCEEDED', retriable: true },
  KafkaJSLockTimeout: { code: 'KAFKA_LOCK_TIMEOUT', retriable: true },
  KafkaJSNonRetriableError: { code: 'KAFKA_NON_RETRIABLE', retriable: false },
  KafkaJSTopicMetadataNotLoaded: { code: 'KAFKA_TOPIC_METADATA', retriable: true },
  KafkaJSAggregateError: { code: 'KAFKA_AGGREGATE', retriable: false },
};

/** Wraps a kafkajs error in a VigilError with a stable code and the right retriability. */
export function fromKafkaError(err: unknown, what: string): VigilError {
  if (err instanceof VigilError) return err;
  const e = err as { name?: string; message?: string; retriable?: boolean; type?: string };
  const mapped = e.name === undefined ? undefined : KAFKAJS_ERRORS[e.name];
  const code = mapped?.code ?? (e.type === undefined ? 'KAFKA_ERROR' : `KAFKA_${e.type}`);
  const retriable = mapped?.retriable ?? e.retriable ?? false;
  return new VigilError(`${what}: ${e.message ?? String(err)}`, { code, retriable, cause: err });
}
