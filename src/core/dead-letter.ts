import type { DeadLetter, OutgoingRecord, RecordSource } from './outputs.js';

/** Headers naming where a record came from (as Kafka Connect's dead-letter queue does). */
export function sourceHeaders(s: RecordSource): Record<string, string> {
  return {
    'vigil-id': `${s.topic}:${s.partition}:${s.offset}`,
    'vigil-source-topic': s.topic,
    'vigil-source-partition': String(s.partition),
    'vigil-source-offset': s.offset,
  };
}

/** A dead letter as a record of vigil.dlq: the original key and bytes, its source and its reason. */
export function deadLetterMessage(d: DeadLetter): OutgoingRecord {
  return { key: d.key, value: d.payload, headers: { ...sourceHeaders(d.source), 'vigil-reason': d.reason } };
}
