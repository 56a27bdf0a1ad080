/**
 * Where a reader of one partition stands in its log, when offsets are NOT contiguous.
 *
 * Kafka offsets have gaps, and no code may assume otherwise: a transaction's commit or abort marker
 * takes an offset that no consumer ever sees, the records of an aborted transaction are skipped by a
 * read-committed consumer, and compaction removes records. So "the next offset" is never computed as
 * the last record read plus one and then compared for equality. What holds is:
 *   - records arrive in offset order;
 *   - after a seek to X, the next batch begins with the first record at or after X that exists (the
 *     consumer drops batches fetched before the seek: see RecordConsumer.seek);
 *   - a batch covers the log up to its `end` (control records included), when the consumer knows it.
 *
 * A batch fetched BEFORE the reader's latest seek (the reader took the partition and moved to its
 * checkpoint while the batch was on its way) is only usable if it covers the position: it starts at
 * or before it. Otherwise it may have skipped records between the position and its first offset, so
 * it is dropped; the consumer fetches again from the position.
 */
export type Placement =
  /** Process `records.slice(from)` (records below the position were processed already). */
  | { readonly use: true; readonly from: number }
  | { readonly use: false; readonly why: 'processed' | 'fetched before the seek' | 'empty' };

/**
 * Places a batch at the reader's position `next` (undefined: no position yet, take everything).
 * `offsets` are the batch's record offsets in order.
 */
export function placeBatch(
  next: bigint | undefined,
  offsets: readonly string[],
  fetchedBeforeSeek: boolean,
): Placement {
  const first = offsets[0];
  if (first === undefined) return { use: false, why: 'empty' };
  if (next === undefined) return { use: true, from: 0 };
  if (BigInt(first) > next) {
    // A gap (a marker, an aborted transaction, compaction) unless the batch predates our seek.
    return fetchedBeforeSeek ? { use: false, why: 'fetched before the seek' } : { use: true, from: 0 };
  }
  let from = 0;
  while (from < offsets.length && BigInt(offsets[from] as string) < next) from++;
  return from === offsets.length ? { use: false, why: 'processed' } : { use: true, from };
}

/**
 * The position after a batch: past its last record, and past any control records after it when the
 * consumer says where the batch ends (so a partition whose last record is a commit marker is not
 * forever one record behind).
 */
export function positionAfter(lastOffset: string, end: string | undefined): bigint {
  const past = BigInt(lastOffset) + 1n;
  if (end === undefined) return past;
  const e = BigInt(end);
  return e > past ? e : past;
}

/**
 * A batch of gaps alone (transaction markers, aborted records: nothing to process) that begins at or
 * before the position moves it to the batch's end; undefined when it does not cover the position.
 */
export function skipGaps(
  next: bigint | undefined,
  start: string | undefined,
  end: string | undefined,
): bigint | undefined {
  if (next === undefined || start === undefined || end === undefined) return undefined;
  const [s, e] = [BigInt(start), BigInt(end)];
  return s <= next && e > next ? e : undefined;
}
