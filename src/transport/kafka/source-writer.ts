import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka, type Producer, type RecordMetadata } from 'kafkajs';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import type { ConsumedBatch, TopicMessages } from '../../ports/record-log.js';
import { CONTROL_HEADER, TXN_HEADER, type Placement, type SourceWriter } from '../../ports/source-writer.js';
import { compressionOf, type CodecName } from './codecs.js';
import { fromKafkaError } from './errors.js';
import { KafkaRecordConsumer, splitRequests } from './record-log.js';

export interface KafkaSourceWriterOptions {
  /** One per log source: the broker fences every earlier producer of the same id. */
  readonly transactionalId: string;
  /** Groups of the private readers that check a pending write: `<prefix><uuid>`, never committed. */
  readonly groupPrefix: string;
  readonly sessionTimeoutMs: number;
  /** An open transaction of a dead fetcher blocks read_committed readers of its partition this long. */
  readonly transactionTimeoutMs: number;
  /** How record batches are compressed (kafka.compression; none by default). */
  readonly compression?: CodecName;
}

const MAX_REQUEST_BYTES = 512 * 1024;

/**
 * A log source's writes as Kafka transactions. The transactional id is the source's, so when another
 * node opens the source, the broker bumps the id's epoch: the old owner's sends and commits fail
 * (fenced) and its open transaction is aborted. Consumers read committed records only (kafkajs'
 * default), so a write is seen whole or not at all.
 *
 * Whether a write committed is asked only after a crash between its commit and the checkpoint: the
 * new owner commits a probe record (a control record, which consumers skip) to the same partition,
 * then reads from the write's placement up to the probe. Everything before the probe is decided by
 * then, so the answer needs no timeout: the write's first record is there, or it was aborted.
 */
export class KafkaSourceWriter implements SourceWriter {
  private readonly producer: Producer;

  constructor(
    private readonly kafka: Kafka,
    private readonly o: KafkaSourceWriterOptions,
    private readonly logger: Logger,
  ) {
    this.producer = kafka.producer({
      transactionalId: o.transactionalId,
      transactionTimeout: o.transactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async open(): Promise<void> {
    try {
      await this.producer.connect();
      // The first transaction registers the transactional id: this is where the broker fences
      // earlier producers. An empty transaction is ended locally.
      const t = await this.producer.transaction();
      await t.abort();
    } catch (err) {
      throw fromKafkaError(err, `opening transactional producer ${this.o.transactionalId}`);
    }
  }

  async write(
    txn: string,
    keyTopic: string,
    batches: readonly TopicMessages[],
    beforeCommit: (placement: Placement) => Promise<void>,
  ): Promise<void> {
    const tagged = batches.map((b) => ({
      topic: b.topic,
      messages: b.messages.map((m) => ({ ...m, headers: { ...m.headers, [TXN_HEADER]: txn } })),
    }));
    const t = await this.producer.transaction().catch((err: unknown) => {
      throw fromKafkaError(err, `beginning a transaction of ${this.o.transactionalId}`);
    });
    try {
      let placement: Placement | undefined;
      for (const request of splitRequests(tagged, MAX_REQUEST_BYTES)) {
        const compression = compressionOf(this.o.compression ?? 'none');
        const placed = await t.sendBatch({
          acks: -1,
          topicMessages: request,
          ...(compression === undefined ? {} : { compression }),
        });
        placement ??= firstOn(keyTopic, placed);
      }
      if (placement === undefined)
        throw new VigilError(`a source write needs a record on ${keyTopic}`, { code: 'SOURCE_WRITE' });
      await beforeCommit(placement);
      await t.commit();
    } catch (err) {
      if (t.isActive()) await t.abort().catch(() => undefined);
      throw fromKafkaError(err, `writing transaction ${txn} of ${this.o.transactionalId}`);
    }
  }

  async committed(txn: string, placement: Placement, key: string): Promise<boolean> {
    const probe = `probe-${randomUUID()}`;
    let probeAt: bigint;
    try {
      const t = await this.producer.transaction();
      const placed = await t.send({
        topic: placement.topic,
        acks: -1,
        messages: [{ key, value: '', headers: { [CONTROL_HEADER]: 'probe', [TXN_HEADER]: probe } }],
      });
      await t.commit();
      probeAt = BigInt(firstOn(placement.topic, placed)?.offset ?? '-1');
    } catch (err) {
      throw fromKafkaError(err, `probing ${placement.topic}:${placement.partition}`);
    }
    return this.scan(txn, placement, probeAt);
  }

  /** Reads the placement's partition from the write's offset up to the probe: is the write there? */
  private async scan(txn: string, placement: Placement, probeAt: bigint): Promise<boolean> {
    const reader = new KafkaRecordConsumer(
      this.kafka,
      {
        groupId: `${this.o.groupPrefix}${randomUUID()}`,
        sessionTimeoutMs: this.o.sessionTimeoutMs,
        concurrency: 1,
      },
      this.logger,
    );
    let settle!: (found: boolean) => void;
    let fail!: (err: Error) => void;
    const answer = new Promise<boolean>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const onBatch = (batch: ConsumedBatch): Promise<void> => {
      if (batch.partition !== placement.partition) return Promise.resolve();
      for (const r of batch.records) {
        if (BigInt(r.offset) < BigInt(placement.offset)) continue;
        if (String(r.headers[TXN_HEADER]) === txn) settle(true);
        if (BigInt(r.offset) >= probeAt) settle(false);
      }
      return Promise.resolve();
    };
    try {
      await reader.start([placement.topic], {
        onAssignment: (parts) => {
          reader.pause(parts.filter((p) => p.partition !== placement.partition));
          if (parts.some((p) => p.partition === placement.partition))
            reader.seek({ topic: placement.topic, partition: placement.partition }, placement.offset);
        },
        onBatch,
        onFatal: fail,
      });
      return await answer;
    } finally {
      await reader.stop();
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

function firstOn(topic: string, placed: readonly RecordMetadata[]): Placement | undefined {
  const m = placed.find((p) => p.topicName === topic);
  return m?.baseOffset === undefined ? undefined : { topic, partition: m.partition, offset: m.baseOffset };
}
