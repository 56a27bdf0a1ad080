import type { IHeaders, Message, Producer, TopicMessages } from 'kafkajs';
import type { DeadLetter, OutputBuffer } from '../../core/outputs.js';
import type { TopicRole } from '../../config/load.js';
import { fromKafkaError } from './errors.js';

/**
 * Ships what a batch produced to the output topics in ONE produce request (sendBatch), with acks=all
 * and the idempotent producer, before the batch's offsets are committed.
 *
 * Encodings (all keyed by sensor id, so one sensor's outputs stay ordered in one partition):
 *   vigil.aggregates  JSON WindowResult
 *   vigil.alerts      JSON Alert, header vigil-alert-id
 *   vigil.late        JSON Reading, headers vigil-reason, vigil-watermark
 *   vigil.dlq         the ORIGINAL key and bytes, headers vigil-reason, vigil-source-topic,
 *                     vigil-source-partition, vigil-source-offset (as Kafka Connect's DLQ does)
 */
export class KafkaOutputSink {
  constructor(
    private readonly producer: Producer,
    private readonly topics: Readonly<Record<TopicRole, string>>,
  ) {}

  async send(out: OutputBuffer, deadLetters: readonly DeadLetter[]): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    const add = (topic: string, messages: Message[]): void => {
      if (messages.length > 0) topicMessages.push({ topic, messages });
    };
    add(
      this.topics.aggregates,
      out.windowResults.map((r) => ({ key: r.sensorId, value: JSON.stringify(r) })),
    );
    add(
      this.topics.alerts,
      out.alerts.map((a) => ({
        key: a.sensorId,
        value: JSON.stringify(a),
        headers: { 'vigil-alert-id': a.id },
      })),
    );
    add(
      this.topics.late,
      out.late.map((l) => ({
        key: l.reading.sensorId,
        value: JSON.stringify(l.reading),
        headers: { 'vigil-reason': l.reason, 'vigil-watermark': String(l.watermark) },
      })),
    );
    add(this.topics.dlq, deadLetters.map(deadLetterMessage));
    if (topicMessages.length === 0) return;
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1 });
    } catch (err) {
      throw fromKafkaError(err, 'producing outputs');
    }
  }
}

export function deadLetterMessage(d: DeadLetter): Message {
  const headers: IHeaders = {
    'vigil-reason': d.reason,
    'vigil-source-topic': d.source.topic,
    'vigil-source-partition': String(d.source.partition),
    'vigil-source-offset': d.source.offset,
  };
  return { key: d.key, value: d.payload, headers };
}
