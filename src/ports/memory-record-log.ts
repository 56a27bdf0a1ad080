import { VigilError } from '../core/errors.js';
import { partitionForKey } from '../core/partitioner.js';
import { partitionKey, type PartitionRef } from './state-store.js';
import type {
  AlertLog,
  ConsumedRecord,
  ConsumerHandlers,
  RecordConsumer,
  RecordProducer,
  TopicMessages,
} from './record-log.js';

const MAX_BATCH = 500;

/**
 * An in-process log with Kafka's shape: topics of partitions, offsets, keyed partitioning (the same
 * murmur2 as Kafka), consumer groups with committed offsets. For embedded mode and fast tests; one
 * consumer per group owns every partition (there is no rebalancing to do in one process).
 */
export class MemoryRecordLog {
  private readonly topics = new Map<string, ConsumedRecord[][]>();
  private readonly committed = new Map<string, Map<string, string>>();
  private readonly waiters = new Set<() => void>();

  createTopic(topic: string, partitions: number): void {
    if (!this.topics.has(topic))
      this.topics.set(
        topic,
        Array.from({ length: partitions }, () => []),
      );
  }

  partitions(topic: string): ConsumedRecord[][] {
    const parts = this.topics.get(topic);
    if (parts === undefined) throw new VigilError(`unknown topic ${topic}`, { code: 'NOT_FOUND' });
    return parts;
  }

  /** The partition a key goes to (Kafka's murmur2). */
  partitionOf(topic: string, key: Buffer | string): number {
    return partitionForKey(Buffer.from(key), this.partitions(topic).length);
  }

  append(batches: readonly TopicMessages[]): void {
    for (const { topic, messages } of batches) {
      const parts = this.partitions(topic);
      for (const m of messages) {
        const key = m.key === null ? null : Buffer.from(m.key);
        const p = key === null ? 0 : partitionForKey(key, parts.length);
        const records = parts[p] as ConsumedRecord[];
        records.push({
          key,
          value: m.value === null ? null : Buffer.from(m.value),
          offset: String(records.length),
          headers: { ...m.headers },
        });
      }
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves at the next append (or after `ms`). */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  committedOffset(group: string, p: PartitionRef): string | undefined {
    return this.committed.get(group)?.get(partitionKey(p));
  }

  commit(group: string, p: PartitionRef, offset: string): void {
    let offsets = this.committed.get(group);
    if (offsets === undefined) {
      offsets = new Map();
      this.committed.set(group, offsets);
    }
    offsets.set(partitionKey(p), offset);
  }

  producer(): RecordProducer {
    return {
      send: (batches) => {
        this.append(batches);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
  }

  consumer(group: string): RecordConsumer {
    return new MemoryConsumer(this, group);
  }

  /** A topic of one partition as the Alerts service reads it. */
  alertLog(topic: string): AlertLog {
    let readers = 0;
    return {
      topic,
      endOffset: () => Promise.resolve(BigInt(this.partitions(topic)[0]?.length ?? 0)),
      reader: () => this.consumer(`alert-reader-${++readers}`),
    };
  }
}

class MemoryConsumer implements RecordConsumer {
  /** partitionKey -> next offset to deliver. */
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private assigned: PartitionRef[] = [];

  constructor(
    private readonly records: MemoryRecordLog,
    private readonly group: string,
  ) {}

  start(topics: readonly string[], handlers: ConsumerHandlers): Promise<void> {
    this.assigned = topics.flatMap((topic) =>
      this.records.partitions(topic).map((_, partition) => ({ topic, partition })),
    );
    for (const ref of this.assigned) {
      this.positions.set(partitionKey(ref), Number(this.records.committedOffset(this.group, ref) ?? 0));
    }
    handlers.onAssignment(this.assigned);
    this.running = true;
    this.loop = this.run(handlers);
    return Promise.resolve();
  }

  private async run(handlers: ConsumerHandlers): Promise<void> {
    const control = { isActive: () => this.running, heartbeat: () => Promise.resolve() };
    while (this.running) {
      let delivered = false;
      for (const ref of this.assigned) {
        if (!this.isRunning()) break;
        const key = partitionKey(ref);
        if (this.paused.has(key)) continue;
        const records = this.records.partitions(ref.topic)[ref.partition] as ConsumedRecord[];
        const from = this.positions.get(key) ?? 0;
        if (from >= records.length) continue;
        const batch = records.slice(from, from + MAX_BATCH);
        this.positions.set(key, from + batch.length);
        delivered = true;
        await handlers.onBatch({ ...ref, records: batch, highWatermark: String(records.length) }, control);
      }
      if (!delivered) await this.records.waitForAppend(50);
    }
  }

  /** A method, not the field, so the loop re-reads it after every await. */
  private isRunning(): boolean {
    return this.running;
  }

  seek(p: PartitionRef, offset: string): void {
    this.positions.set(partitionKey(p), Number(offset));
  }

  commit(p: PartitionRef, nextOffset: string): Promise<void> {
    this.records.commit(this.group, p, nextOffset);
    return Promise.resolve();
  }

  pause(partitions: readonly PartitionRef[]): void {
    for (const p of partitions) this.paused.add(partitionKey(p));
  }

  resume(partitions: readonly PartitionRef[]): void {
    for (const p of partitions) this.paused.delete(partitionKey(p));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
