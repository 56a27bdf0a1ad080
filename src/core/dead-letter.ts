import { createHash } from 'node:crypto';
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

/**
 * An id for a record that has no offset of its own (an MQTT message, a record the broker refused):
 * `sha256:` and 32 hex digits of its bytes. The same bytes sent again keep it; different bytes never
 * share it (two identical payloads share it, as two identical readings are one reading).
 */
export function contentId(payload: Uint8Array | null): string {
  return `sha256:${createHash('sha256')
    .update(payload ?? new Uint8Array())
    .digest('hex')
    .slice(0, 32)}`;
}

/** Bytes a dead letter keeps of a payload (limits.deadLetterPayloadBytes), and of a key. */
export const DEFAULT_DEAD_LETTER_BYTES = 65_536;
const MAX_KEY_BYTES = 1_024;
/** Bytes a reason keeps: a reason quotes what it refuses, and what it refuses can be huge. */
const MAX_REASON_BYTES = 2_048;

const cut = (b: Buffer | null, max: number): Buffer | null =>
  b === null || b.length <= max ? b : b.subarray(0, max);

/**
 * A dead letter as a record of vigil.dlq: the original key and bytes, its source and its reason.
 *
 * A dead letter never exceeds the broker's limit, whatever it holds: a payload over `maxPayloadBytes`
 * is cut there (a key over 1 KiB too), and `vigil-payload-bytes` / `vigil-key-bytes` say how long the
 * original was. Nothing is lost: the source topic, partition and offset name the whole original.
 */
export function deadLetterMessage(
  d: DeadLetter,
  maxPayloadBytes = DEFAULT_DEAD_LETTER_BYTES,
): OutgoingRecord {
  const payload = cut(d.payload, maxPayloadBytes);
  const key = cut(d.key, MAX_KEY_BYTES);
  const headers: Record<string, string> = { ...sourceHeaders(d.source), 'vigil-reason': reasonOf(d.reason) };
  if (payload !== d.payload) headers['vigil-payload-bytes'] = String(d.payload?.length ?? 0);
  if (key !== d.key) headers['vigil-key-bytes'] = String(d.key?.length ?? 0);
  return { key, value: payload, headers };
}

function reasonOf(reason: string): string {
  return Buffer.byteLength(reason) <= MAX_REASON_BYTES ? reason : `${reason.slice(0, MAX_REASON_BYTES / 4)}…`;
}
