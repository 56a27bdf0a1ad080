import { contentId, deadLetterMessage } from '../core/dead-letter.js';
import { VigilError } from '../core/errors.js';
import type { OutgoingRecord, RecordProducer, TopicMessages } from '../ports/record-log.js';

/** Bytes a record the broker refused keeps in its dead letter: small enough for any broker. */
const REFUSED_PAYLOAD_BYTES = 512;

/**
 * Sends `batches`; if the broker refuses a record for what it is (KAFKA_RECORD_REFUSED: too large for
 * this broker's limit, say), sends them one by one instead, and each record refused goes to `dlq` with
 * the broker's reason (cut to 512 bytes; its topic and id name it) instead of failing everything forever.
 * Any other failure is thrown (retriable ones are the caller's to retry). Returns the dead letters
 * written.
 */
export async function sendOrDeadLetter(
  producer: RecordProducer,
  batches: readonly TopicMessages[],
  dlq: string,
): Promise<number> {
  try {
    await producer.send(batches);
    return 0;
  } catch (err) {
    if (!(err instanceof VigilError) || err.code !== 'KAFKA_RECORD_REFUSED') throw err;
  }
  let refused = 0;
  for (const b of batches) {
    for (const m of b.messages) {
      try {
        await producer.send([{ topic: b.topic, messages: [m] }]);
      } catch (err) {
        if (!(err instanceof VigilError) || err.code !== 'KAFKA_RECORD_REFUSED') throw err;
        await producer.send([{ topic: dlq, messages: [refusedLetter(b.topic, m, err)] }]);
        refused++;
      }
    }
  }
  return refused;
}

function refusedLetter(topic: string, m: OutgoingRecord, err: VigilError): OutgoingRecord {
  const value = m.value === null ? null : Buffer.from(m.value);
  // Vigil's own outputs carry their id; a record passed on (an MQTT message) is named by its bytes.
  const id = m.headers?.['vigil-id'] ?? contentId(value);
  return deadLetterMessage(
    {
      source: { topic, partition: -1, offset: id },
      key: m.key === null ? null : Buffer.from(m.key),
      payload: value,
      reason: `the broker refused this record for ${topic}: ${err.message}`,
    },
    REFUSED_PAYLOAD_BYTES,
  );
}
