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
 * An offset no read-committed consumer sees: a transaction's commit or abort marker, a record of an
 * aborted transaction, or one removed by compaction. It keeps its place, as in Kafka.
 */
interface Hole {
  readonly hole: 'marker' | 'aborted' | 'compacted';
  readonly offset: string;
}

type Slot = ConsumedRecord | Hole;

const isHole = (s: Slot): s is Hole => 'hole' in s;

/**
 * An in-process log with Kafka's shape: topics of partitions, offsets, keyed partitioning (the same
 * murmur2 as Kafka), consumer groups with committed offsets, and Kafka's gaps in offsets: a
 * transaction ends with a marker that takes an offset, an aborted transaction's records are skipped,
 * compaction removes records. For embedded mode and fast tests; one consumer per group owns every
 * partition (there is no rebalancing to do in one process).
 */
export class MemoryRecordLog {
  private readonly topics = new Map<string, Slot[][]>();
  private readonly committed = new Map<string, Map<string, string>>();
  private readonly waiters = new Set<() => void>();

  createTopic(topic: string, partitions: number): void {
    if (!this.topics.has(topic))
      this.topics.set(
        topic,
        Array.from({ length: partitions }, () => []),
      );
  }

  private slots(topic: string): Slot[][] {
    const parts = this.topics.get(topic);
    if (parts === undefined) throw new VigilError(`unknown topic ${topic}`, { code: 'NOT_FOUND' });
    return parts;
  }

  /** The records a read-committed consumer sees, per partition, with their offsets. */
  partitions(topic: string): ConsumedRecord[][] {
    return this.slots(topic).map((slots) => slots.filter((s): s is ConsumedRecord => !isHole(s)));
  }

  /** How many partitions a topic has. */
  partitionCount(topic: string): number {
    return this.slots(topic).length;
  }

  /** The offset the next record of a partition gets (its high watermark). */
  endOffset(topic: string, partition: number): number {
    return this.slots(topic)[partition]?.length ?? 0;
  }

  /** The record at `offset`, if it is one a consumer sees. */
  recordAt(topic: string, partition: number, offset: number): ConsumedRecord | undefined {
    const slot = this.slots(topic)[partition]?.[offset];
    return slot === undefined || isHole(slot) ? undefined : slot;
  }

  /** The partition a key goes to (Kafka's murmur2). */
  partitionOf(topic: string, key: Buffer | string): number {
    return partitionForKey(Buffer.from(key), this.slots(topic).length);
  }

  append(batches: readonly TopicMessages[]): void {
    this.write(batches, undefined);
  }

  /**
   * Appends to a partition chosen by the caller, not by the key: what a producer with another
   * partitioner (or a key that is not the sensor id) does.
   */
  appendTo(topic: string, partition: number, messages: TopicMessages['messages']): void {
    this.write([{ topic, messages }], undefined, () => partition);
  }

  /**
   * Appends as one transaction: committed, its records are visible; aborted, they are holes. Either
   * way each partition it wrote gets a marker after them, as a Kafka transaction does.
   */
  appendTransaction(batches: readonly TopicMessages[], outcome: 'commit' | 'abort'): void {
    this.write(batches, outcome);
  }

  /** Compaction: records of a partition for which `remove` says so become holes. */
  compact(topic: string, partition: number, remove: (r: ConsumedRecord) => boolean): void {
    const slots = this.slots(topic)[partition] ?? [];
    slots.forEach((s, i) => {
      if (!isHole(s) && remove(s)) slots[i] = { hole: 'compacted', offset: s.offset };
    });
  }

  private write(
    batches: readonly TopicMessages[],
    transaction: 'commit' | 'abort' | undefined,
    partitionOf?: () => number,
  ): void {
    const touched = new Set<Slot[]>();
    const now = String(Date.now());
    for (const { topic, messages } of batches) {
      const parts = this.slots(topic);
      for (const m of messages) {
        const key = m.key === null ? null : Buffer.from(m.key);
        const p = partitionOf?.() ?? (key === null ? 0 : partitionForKey(key, parts.length));
        const slots = parts[p] as Slot[];
        const offset = String(slots.length);
        touched.add(slots);
        if (transaction === 'abort') slots.push({ hole: 'aborted', offset });
        else
          // Stamped with the log's own time, as a broker does for LogAppendTime topics.
          slots.push({
            key,
            value: m.value === null ? null : Buffer.from(m.value),
            offset,
            headers: { ...m.headers },
            timestamp: now,
          });
      }
    }
    if (transaction !== undefined)
      for (const slots of touched) slots.push({ hole: 'marker', offset: String(slots.length) });
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

  /** A slice of a partition's slots from `from`: its visible records and where it ends. */
  read(ref: PartitionRef, from: number): { records: ConsumedRecord[]; end: number; high: number } {
    const slots = this.slots(ref.topic)[ref.partition] ?? [];
    const slice = slots.slice(from, from + MAX_BATCH);
    return {
      records: slice.filter((s): s is ConsumedRecord => !isHole(s)),
      end: from + slice.length,
      high: slots.length,
    };
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
      endOffset: () => Promise.resolve(BigInt(this.endOffset(topic, 0))),
      reader: () => this.consumer(`alert-reader-${++readers}`),
    };
  }

  /** Every partition of the topics, as refs. */
  refs(topics: readonly string[]): PartitionRef[] {
    return topics.flatMap((topic) => this.slots(topic).map((_, partition) => ({ topic, partition })));
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
    this.assigned = this.records.refs(topics);
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
        const from = this.positions.get(key) ?? 0;
        const slice = this.records.read(ref, from);
        if (slice.end === from) continue;
        this.positions.set(key, slice.end);
        delivered = true;
        // A slice of holes alone (markers, aborted records) is delivered empty, with where it begins.
        await handlers.onBatch(
          {
            ...ref,
            records: slice.records,
            highWatermark: String(slice.high),
            start: String(from),
            end: String(slice.end),
          },
          control,
        );
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
