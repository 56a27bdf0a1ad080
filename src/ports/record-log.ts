import type { OutgoingRecord } from '../core/outputs.js';
import type { PartitionRef } from './state-store.js';

/** A record to append to a topic (the partition is chosen from the key, as Kafka's default partitioner does). */
export type { OutgoingRecord } from '../core/outputs.js';

export interface TopicMessages {
  readonly topic: string;
  readonly messages: readonly OutgoingRecord[];
}

export interface RecordProducer {
  /** Appends every message durably (acks=all for Kafka) or throws; one call, one request. */
  send(batches: readonly TopicMessages[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Decimal string, as Kafka offsets are 64-bit. */
  readonly offset: string;
  readonly headers: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
  /** Epoch ms the broker took the record (LogAppendTime), or its producer's time. */
  readonly timestamp?: string;
}

export interface ConsumedBatch extends PartitionRef {
  readonly records: readonly ConsumedRecord[];
  /** The partition's end (next offset to be written) when the batch was fetched, if known. */
  readonly highWatermark?: string;
  /**
   * The offset just past what the batch covers, control records (transaction markers) included, when
   * the consumer knows it. Offsets have gaps: never assume the next record is the last one plus 1.
   */
  readonly end?: string;
  /**
   * The first offset the batch covers, control records included, when the consumer knows it. A batch
   * of gaps alone (no records: markers, aborted records) is delivered with `start` and `end` so the
   * position can move past it.
   */
  readonly start?: string;
}

export interface BatchControl {
  /** False once the partition was revoked or the consumer is stopping: stop working on the batch. */
  isActive(): boolean;
  heartbeat(): Promise<void>;
}

export interface ConsumerHandlers {
  /** Called with one batch of one partition at a time per partition (batches of a partition never overlap). */
  onBatch(batch: ConsumedBatch, control: BatchControl): Promise<void>;
  /** The full set of partitions this member owns, after every assignment. */
  onAssignment(partitions: readonly PartitionRef[]): void;
  /** The consumer stopped for good (it will not fetch again). */
  onFatal(error: Error): void;
}

/**
 * A group member reading one or more topics (partitions of all of them are assigned). Offsets are committed only when the engine says so (after a
 * checkpoint), never automatically. Implementations: MemoryRecordLog's consumer and KafkaRecordConsumer; both
 * pass test/contract/log.contract.ts.
 */
export interface RecordConsumer {
  start(topics: readonly string[], handlers: ConsumerHandlers): Promise<void>;
  /**
   * The next batch of `p` starts with the first record at or after `offset` (offsets have gaps).
   * Batches of `p` fetched before the seek are never delivered after it.
   */
  seek(p: PartitionRef, offset: string): void;
  commit(p: PartitionRef, nextOffset: string): Promise<void>;
  /** Stops fetching the partitions (backpressure) until resumed. */
  pause(partitions: readonly PartitionRef[]): void;
  resume(partitions: readonly PartitionRef[]): void;
  /** Leaves the group after the batches in hand are done. */
  stop(): Promise<void>;
}

/**
 * vigil.alerts as the Alerts service reads it: a topic of ONE partition, its end, and private readers
 * (each its own consumer group, never committing) that start wherever they are told to.
 */
export interface AlertLog {
  readonly topic: string;
  /** The offset the next record appended will get. */
  endOffset(): Promise<bigint>;
  reader(): RecordConsumer;
}
