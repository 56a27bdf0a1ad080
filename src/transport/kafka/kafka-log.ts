import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
import type { ConsumerHandlers, LogConsumer, LogProducer, TopicMessages } from '../../log/log.js';
import type { Logger } from '../../log.js';
import type { PartitionRef } from '../../state/store.js';
import { fromKafkaError } from './errors.js';

export interface KafkaConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  /** Partitions worked on at once by this member. */
  readonly concurrency: number;
}

/**
 * LogConsumer over a kafkajs consumer group. Auto-commit is off: offsets are committed only after a
 * checkpoint, so Kafka's committed offsets (and every standard lag tool) show what is really safe.
 */
export class KafkaLogConsumer implements LogConsumer {
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly options: KafkaConsumerOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 5)),
      maxBytesPerPartition: 1024 * 1024,
    });
  }

  async start(topic: string, handlers: ConsumerHandlers): Promise<void> {
    try {
      await this.consumer.connect();
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        const assigned = Object.entries(payload.memberAssignment).flatMap(([t, parts]) =>
          parts.map((partition) => ({ topic: t, partition })),
        );
        handlers.onAssignment(assigned);
      });
      this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
        this.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      });
      await this.consumer.subscribe({ topic, fromBeginning: true });
      await this.consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: false,
        partitionsConsumedConcurrently: this.options.concurrency,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (batch.messages.length === 0) return;
          await handlers.onBatch(
            {
              topic: batch.topic,
              partition: batch.partition,
              records: batch.messages.map((m) => ({
                key: m.key,
                value: m.value,
                offset: m.offset,
                headers: m.headers ?? {},
              })),
            },
            {
              isActive: () => payload.isRunning() && !payload.isStale(),
              heartbeat: () => payload.heartbeat(),
            },
          );
        },
      });
    } catch (err) {
      throw fromKafkaError(err, `consuming ${topic}`);
    }
  }

  seek(p: PartitionRef, offset: string): void {
    this.consumer.seek({ topic: p.topic, partition: p.partition, offset });
  }

  async commit(p: PartitionRef, nextOffset: string): Promise<void> {
    try {
      await this.consumer.commitOffsets([{ topic: p.topic, partition: p.partition, offset: nextOffset }]);
    } catch (err) {
      throw fromKafkaError(err, `committing ${p.topic}:${p.partition}`);
    }
  }

  pause(partitions: readonly PartitionRef[]): void {
    this.consumer.pause(group(partitions));
  }

  resume(partitions: readonly PartitionRef[]): void {
    this.consumer.resume(group(partitions));
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

function group(partitions: readonly PartitionRef[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
  return [...byTopic].map(([topic, parts]) => ({ topic, partitions: parts }));
}

/** LogProducer over the idempotent kafkajs producer: one sendBatch per call, acks from all replicas. */
export class KafkaLogProducer implements LogProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // The idempotent producer keeps retrying while the broker is away: nothing can be processed
      // then anyway, and giving up would only replay the batch.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
    });
  }

  async send(batches: readonly TopicMessages[]): Promise<void> {
    if (batches.length === 0) return;
    this.connected ??= this.producer.connect();
    try {
      await this.connected;
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: batches.map((b) => ({ topic: b.topic, messages: b.messages.map((m) => ({ ...m })) })),
      });
    } catch (err) {
      throw fromKafkaError(err, 'producing');
    }
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect();
  }
}
