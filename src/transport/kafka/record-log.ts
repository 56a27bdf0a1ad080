import { Partitioners, type CompressionTypes, type Consumer, type Kafka, type Producer } from 'kafkajs';
import type {
  ConsumerHandlers,
  RecordConsumer,
  OutgoingRecord,
  RecordProducer,
  TopicMessages,
} from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import type { PartitionRef } from '../../ports/state-store.js';
import { compressionOf, type CodecName } from './codecs.js';
import { fromKafkaError } from './errors.js';

export interface KafkaConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  /** Partitions worked on at once by this member. */
  readonly concurrency: number;
}

/**
 * RecordConsumer over a kafkajs consumer group. Auto-commit is off: offsets are committed only after a
 * checkpoint, so Kafka's committed offsets (and every standard lag tool) show what is really safe.
 */
export class KafkaRecordConsumer implements RecordConsumer {
  private readonly consumer: Consumer;
  /** Partitions whose position a handler moved during the current batch. */
  private readonly sought = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly options: KafkaConsumerOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 5)),
      // kafkajs heartbeats from its fetch loop: an idle long poll longer than the session timeout
      // (the default wait is 5 s) gets a member evicted again and again on a quiet topic.
      maxWaitTimeInMs: Math.min(1_000, Math.floor(options.sessionTimeoutMs / 4)),
      maxBytesPerPartition: 1024 * 1024,
    });
  }

  async start(topics: readonly string[], handlers: ConsumerHandlers): Promise<void> {
    try {
      await this.consumer.connect();
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        const assigned = Object.entries(payload.memberAssignment).flatMap(([t, parts]) =>
          parts.map((partition) => ({ topic: t, partition })),
        );
        handlers.onAssignment(assigned);
      });
      // kafkajs handles a batch of gaps alone (transaction markers, aborted records) itself and never
      // hands it to eachBatch: it is passed on empty, so positions move past trailing gaps too.
      this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
        // firstOffset is null for a batch with nothing in it at all (kafkajs' typings say string).
        const { payload } = event;
        const first: unknown = payload.firstOffset;
        if (payload.batchSize !== 0 || typeof first !== 'string') return;
        const gaps = {
          topic: payload.topic,
          partition: payload.partition,
          records: [],
          highWatermark: payload.highWatermark,
          start: first,
          end: (BigInt(payload.lastOffset) + 1n).toString(),
        };
        void handlers
          .onBatch(gaps, { isActive: () => true, heartbeat: () => Promise.resolve() })
          .catch((err: unknown) => {
            this.logger.warn({ err }, 'moving past a batch of transaction markers failed');
          });
      });
      this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
        this.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
        // kafkajs restarts the consumer after retriable errors; after any other it stays down, and a
        // node that silently stops consuming is worse than one that stops and says why.
        if (!payload.restart) handlers.onFatal(payload.error);
      });
      await this.consumer.subscribe({ topics: [...topics], fromBeginning: true });
      await this.consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: false,
        partitionsConsumedConcurrently: this.options.concurrency,
        eachBatch: async (payload) => {
          const { batch } = payload;
          // Empty (kafkajs resolves batches of control records alone), or fetched before a seek
          // made since: the seek's position is fetched next.
          if (batch.messages.length === 0 || payload.isStale()) return;
          const key = `${batch.topic}:${batch.partition}`;
          this.sought.delete(key);
          await handlers.onBatch(
            {
              topic: batch.topic,
              partition: batch.partition,
              highWatermark: batch.highWatermark,
              ...(batch.firstOffset() === null ? {} : { start: String(batch.firstOffset()) }),
              end: (BigInt(batch.lastOffset()) + 1n).toString(),
              records: batch.messages.map((m) => ({
                key: m.key,
                value: m.value,
                offset: m.offset,
                headers: m.headers ?? {},
                timestamp: m.timestamp,
              })),
            },
            {
              isActive: () => payload.isRunning() && !payload.isStale(),
              heartbeat: () => payload.heartbeat(),
            },
          );
          // kafkajs fetches from the last RESOLVED offset: resolve the batch (this commits nothing,
          // auto-commit is off) unless the handler moved the position itself with seek().
          if (!this.sought.has(key)) payload.resolveOffset(batch.lastOffset());
        },
      });
    } catch (err) {
      throw fromKafkaError(err, `consuming ${topics.join(', ')}`);
    }
  }

  seek(p: PartitionRef, offset: string): void {
    this.sought.add(`${p.topic}:${p.partition}`);
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

/**
 * Bytes of payload per produce request. The broker refuses a record batch above message.max.bytes
 * (1 MiB by default), and kafkajs puts a request's messages for one partition in one record batch.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

const sizeOf = (m: OutgoingRecord): number => {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  if (m.headers !== undefined) for (const k in m.headers) n += k.length + (m.headers[k]?.length ?? 0);
  return n;
};

/** Splits topic batches into requests of at most `max` bytes of payload, keeping message order. */
export function splitRequests(
  batches: readonly TopicMessages[],
  max: number,
): { topic: string; messages: OutgoingRecord[] }[][] {
  const requests: { topic: string; messages: OutgoingRecord[] }[][] = [];
  let current: { topic: string; messages: OutgoingRecord[] }[] = [];
  let bytes = 0;
  for (const b of batches) {
    let entry: { topic: string; messages: OutgoingRecord[] } | undefined;
    for (const m of b.messages) {
      const size = sizeOf(m);
      if (bytes > 0 && bytes + size > max) {
        requests.push(current);
        current = [];
        bytes = 0;
        entry = undefined;
      }
      if (entry === undefined) {
        entry = { topic: b.topic, messages: [] };
        current.push(entry);
      }
      entry.messages.push({ ...m });
      bytes += size;
    }
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** One caller's messages waiting for the next produce. */
interface Queued {
  readonly batches: readonly TopicMessages[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * RecordProducer over the idempotent kafkajs producer: requests of bounded size, acks from all replicas.
 *
 * Sends are COMBINED: the idempotent producer has one request in flight per broker, so the partition
 * workers of a node, each shipping its batch's outputs, used to queue one round trip behind the other
 * (six partitions: the last waited for five). Now what callers send while a request is on its way
 * goes out together in the next one, in the order sent, and each caller's promise settles with the
 * request that carried its messages. A request that fails fails all its callers; what it had written
 * comes again with the callers' retries, with the same ids (outputs are at least once, deduplicated
 * by id).
 */
export class KafkaRecordProducer implements RecordProducer {
  private producer: Producer;
  private readonly compression: CompressionTypes | undefined;
  private connected: Promise<void> | undefined;
  private queue: Queued[] = [];
  private sending = false;
  /** Produce requests made: fewer than sends when sends were combined. */
  requests = 0;
  /** Producers started afresh after a request failed in part (see produce). */
  restarts = 0;

  /** `compression`: how record batches are compressed (kafka.compression; none by default). */
  constructor(
    private readonly kafka: Kafka,
    options: { readonly compression?: CodecName } = {},
  ) {
    this.compression = compressionOf(options.compression ?? 'none');
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // The idempotent producer keeps retrying while the broker is away: nothing can be processed
      // then anyway, and giving up would only replay the batch.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
    });
  }

  send(batches: readonly TopicMessages[]): Promise<void> {
    if (batches.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ batches, resolve, reject });
      this.pump();
    });
  }

  /** Sends everything queued as one request (split only by size), then what queued meanwhile. */
  private pump(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    const callers = this.queue;
    this.queue = [];
    this.produce(callers.flatMap((c) => c.batches))
      .then(
        () => {
          for (const c of callers) c.resolve();
        },
        (err: unknown) => {
          for (const c of callers) c.reject(err);
        },
      )
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }

  private async produce(batches: readonly TopicMessages[]): Promise<void> {
    // A failed connect is tried again by the next send (a rejected promise kept here would fail them all).
    this.connected ??= this.producer.connect().catch((err: unknown) => {
      this.connected = undefined;
      throw err;
    });
    try {
      await this.connected;
    } catch (err) {
      throw fromKafkaError(err, 'producing');
    }
    try {
      for (const request of splitRequests(batches, MAX_REQUEST_BYTES)) {
        this.requests += 1;
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: request,
          ...(this.compression === undefined ? {} : { compression: this.compression }),
        });
      }
    } catch (err) {
      const e = fromKafkaError(err, 'producing');
      if (!e.retriable) await this.restart();
      throw e;
    }
  }

  /**
   * A request that failed for good may have been taken in part: the broker wrote some partitions and
   * refused another (a record too large, say). kafkajs then leaves every partition's sequence number
   * where it was, so the next batch to a partition that was written carries a sequence the broker has
   * seen and is acknowledged as a duplicate WITHOUT being written: a silent loss (a dead letter sent
   * after a refused request vanished this way). A new producer has a new producer id and fresh
   * sequences: what is sent again is written again (a repeat, which readers drop by id), never lost.
   */
  private async restart(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.connected = undefined;
    this.restarts += 1;
    await old.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect();
  }
}
