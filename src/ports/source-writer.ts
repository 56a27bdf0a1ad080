import { VigilError } from '../core/errors.js';
import type { MemoryRecordLog } from './memory-record-log.js';
import type { TopicMessages } from './record-log.js';

/** Where the first record of a write for one source landed. */
export interface Placement {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Headers of every record a SourceWriter writes. */
export const TXN_HEADER = 'vigil-txn';
/** Control records (a fetcher's probe) carry this header; the engine's router skips them. */
export { CONTROL_HEADER } from '../core/router.js';

/**
 * Where one log source's fetcher writes: every write is atomic (all of its records or none become
 * visible), and opening fences every earlier writer of the same source, so a node that lost the
 * source can write nothing more. Implementations: MemorySourceWriter (embedded) and KafkaSourceWriter
 * (Kafka transactions, one transactional id per source); both pass
 * test/contract/source-log.contract.ts.
 */
export interface SourceWriter {
  /** Fences earlier writers of this source. Before any other call. */
  open(): Promise<void>;
  /**
   * Writes `batches` (at least one record keyed by the source on `keyTopic`) as one transaction, each
   * record carrying `TXN_HEADER: txn`. `beforeCommit` runs once the records are placed and before
   * they become visible, with the placement of the first record on `keyTopic`; if it throws, nothing
   * becomes visible.
   */
  write(
    txn: string,
    keyTopic: string,
    batches: readonly TopicMessages[],
    beforeCommit: (placement: Placement) => Promise<void>,
  ): Promise<void>;
  /** Whether the write `txn` that was placed at `placement` committed. After open() only. */
  committed(txn: string, placement: Placement, key: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The in-memory log's transactions: atomic by construction, with Kafka's markers and aborted records
 * (gaps in offsets); one process has nobody to fence.
 */
export class MemorySourceWriter implements SourceWriter {
  constructor(private readonly records: MemoryRecordLog) {}

  open(): Promise<void> {
    return Promise.resolve();
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
    const first = tagged.find((b) => b.topic === keyTopic)?.messages[0];
    if (first?.key === null || first === undefined)
      throw new VigilError('a write needs a keyed record on its key topic', { code: 'INVALID_ARGUMENT' });
    const partition = this.records.partitionOf(keyTopic, first.key);
    const offset = String(this.records.endOffset(keyTopic, partition));
    try {
      await beforeCommit({ topic: keyTopic, partition, offset });
    } catch (err) {
      // As with Kafka: the records were placed, and the aborted transaction leaves holes and a marker.
      this.records.appendTransaction(tagged, 'abort');
      throw err;
    }
    this.records.appendTransaction(tagged, 'commit');
  }

  committed(txn: string, placement: Placement): Promise<boolean> {
    const record = this.records.recordAt(placement.topic, placement.partition, Number(placement.offset));
    return Promise.resolve(record?.headers[TXN_HEADER] === txn);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
