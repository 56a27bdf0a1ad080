import type { Reading } from './reading.js';

/**
 * Drops repeated readings of one sensor: the same sequence number, or the same event time and values,
 * seen within `horizonMs` of event time.
 *
 * Memory: the index holds numbers, not strings: a sequence number `n` is stored as −(n + 1), a
 * (time, values) fingerprint as a 53-bit hash (two FNV-1a variants). A false "repeat" needs two
 * different readings of one sensor within the horizon to share all 53 bits: with k entries the chance
 * per reading is about k / 2^53 (1e-13 for 1,200 entries), far below any sensor's error rate.
 * Entries older than the horizon are swept out, so memory is bounded by the horizon and the rate.
 */
export class Deduplicator {
  /** key -> event time of the reading that claimed it. */
  private seen = new Map<number, number>();
  private maxTs = Number.NEGATIVE_INFINITY;
  private sinceSweep = 0;
  /**
   * Incremental checkpoints: the index is stored in segments of `segMs` of event time (an entry's
   * segment is floor(ts / segMs)). A checkpoint appends the entries added since the last one to their
   * segments, and removes the segments wholly past the horizon (changes()): it costs the readings
   * since, not the index. A sensor at 2 readings/s with a 5 min horizon holds ~1,200 entries but adds
   * 2 per second; rewriting the whole index each time was three quarters of a checkpoint's bytes.
   */
  private readonly segMs: number;
  /** Entries added since the last checkpoint: key, ts, key, ts, ... in order. */
  private added: number[] = [];
  /** Segments the store holds as of the last checkpoint. */
  private stored: number[] = [];
  /** The next checkpoint writes every segment whole (restored from a whole index, or recut). */
  private rewrite = false;

  constructor(private readonly horizonMs: number) {
    this.segMs = Math.max(1_000, Math.ceil(horizonMs / 16));
  }

  /**
   * True when the reading repeats one already seen within the horizon (and records it otherwise).
   * "Within the horizon" is decided here, at lookup, never by when a sweep happened to run: the
   * sweep only frees memory, so results do not depend on it (replays after a restore stay exact).
   */
  isDuplicate(r: Reading): boolean {
    if (this.horizonMs <= 0) return false;
    const fingerprint = fingerprintHash(r);
    const seqKey = r.seq === undefined ? undefined : -(r.seq + 1);
    const cutoff = this.maxTs - this.horizonMs;
    if (this.fresh(fingerprint, cutoff) || (seqKey !== undefined && this.fresh(seqKey, cutoff))) return true;
    this.seen.set(fingerprint, r.ts);
    if (seqKey !== undefined) this.seen.set(seqKey, r.ts);
    if (r.ts > this.maxTs) this.maxTs = r.ts;
    this.added.push(fingerprint, r.ts);
    if (seqKey !== undefined) this.added.push(seqKey, r.ts);
    if (++this.sinceSweep >= 64) this.sweep();
    return false;
  }

  private fresh(key: number, cutoff: number): boolean {
    const ts = this.seen.get(key);
    return ts !== undefined && ts >= cutoff;
  }

  private sweep(): void {
    this.sinceSweep = 0;
    const cutoff = this.maxTs - this.horizonMs;
    for (const [key, ts] of this.seen) if (ts < cutoff) this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * The index as two base64 strings of little-endian float64s (keys, then their event times, in
   * insertion order): a sensor at 2 readings/s keeps ~1,200 entries over a 5 min horizon, and writing
   * those as JSON numbers was the largest cost of a checkpoint (profiled: 15 % of the engine's time).
   * Keys and times are integers below 2^53, exact in a float64.
   */
  snapshot(): DedupeSnapshot {
    this.sweep();
    const n = this.seen.size;
    const keys = Buffer.allocUnsafe(n * 8);
    const times = Buffer.allocUnsafe(n * 8);
    let i = 0;
    for (const [key, ts] of this.seen) {
      keys.writeDoubleLE(key, i);
      times.writeDoubleLE(ts, i);
      i += 8;
    }
    return {
      max: Number.isFinite(this.maxTs) ? this.maxTs : null,
      keys: keys.toString('base64'),
      times: times.toString('base64'),
    };
  }

  /**
   * What a checkpoint writes of the index: the entries added since the last call, grouped by segment,
   * to append to the segments the store holds or to write as new ones; and the stored segments to
   * remove, wholly past the horizon. After a restore from a whole index (or with another segment
   * length), every segment is written whole instead. The index says which segments the store holds
   * after this checkpoint.
   */
  changes(): DedupeChanges {
    const cutoff = this.maxTs - this.horizonMs;
    const expired = (seg: number): boolean => (seg + 1) * this.segMs <= cutoff;
    const write = new Map<number, number[]>();
    const append = new Map<number, number[]>();
    let removed: number[];
    if (this.rewrite) {
      for (const [key, ts] of this.seen) {
        const seg = Math.floor(ts / this.segMs);
        if (expired(seg)) continue;
        const pairs = write.get(seg);
        if (pairs === undefined) write.set(seg, [key, ts]);
        else pairs.push(key, ts);
      }
      removed = this.stored.filter((seg) => !write.has(seg));
      this.stored = [...write.keys()];
    } else {
      const added = this.added;
      for (let i = 0; i + 1 < added.length; i += 2) {
        const key = added[i] as number;
        const ts = added[i + 1] as number;
        const seg = Math.floor(ts / this.segMs);
        if (expired(seg)) continue;
        const into = this.stored.includes(seg) ? append : write;
        const pairs = into.get(seg);
        if (pairs === undefined) into.set(seg, [key, ts]);
        else pairs.push(key, ts);
      }
      removed = this.stored.filter(expired);
      this.stored = [...this.stored.filter((seg) => !expired(seg)), ...write.keys()];
    }
    this.stored.sort((x, y) => x - y);
    this.added = [];
    this.rewrite = false;
    return {
      index: {
        max: Number.isFinite(this.maxTs) ? this.maxTs : null,
        seg: this.segMs,
        segs: [...this.stored],
      },
      write,
      append,
      removed,
    };
  }

  /** Restores from an index and its segments (checkpoint version 3): nothing to write until it changes. */
  restoreSegments(index: DedupeIndex, segments: ReadonlyMap<number, readonly number[]>): this {
    this.maxTs = index.max ?? Number.NEGATIVE_INFINITY;
    this.seen = new Map();
    // In segment order, and within one in the order appended: a key written again later wins.
    for (const seg of index.segs) {
      const pairs = segments.get(seg);
      if (pairs === undefined) throw new RangeError(`dedupe segment ${seg} is missing`);
      for (let i = 0; i + 1 < pairs.length; i += 2) this.seen.set(pairs[i] as number, pairs[i + 1] as number);
    }
    this.sinceSweep = 0;
    this.stored = [...index.segs];
    this.added = [];
    // Cut with another length (the horizon changed): the stored segments are replaced, not updated.
    this.rewrite = index.seg !== this.segMs;
    return this;
  }
}

/** The dedupe index in a version 3 checkpoint: its segments are parts of their own. */
export interface DedupeIndex {
  readonly max: number | null;
  /** Segment length, ms of event time. */
  readonly seg: number;
  /** The segments stored. */
  readonly segs: readonly number[];
}

export interface DedupeChanges {
  readonly index: DedupeIndex;
  /** Segments to write whole: segment -> its key, ts, key, ts, ... pairs. */
  readonly write: ReadonlyMap<number, readonly number[]>;
  /** Pairs to append to segments the store holds. */
  readonly append: ReadonlyMap<number, readonly number[]>;
  readonly removed: readonly number[];
}

/** The whole index, packed (see snapshot()); version 1 checkpoints held `seen` pairs (core/checkpoint-legacy.ts). */
export type DedupeSnapshot =
  | { readonly max: number | null; readonly keys: string; readonly times: string }
  | { readonly max: number | null; readonly seen: readonly (readonly [number, number])[] };

/** A non-negative 53-bit hash of a reading's event time and values (keys sorted: field order is irrelevant). */
export function fingerprintHash(r: Reading): number {
  const keys = Object.keys(r.values);
  if (keys.length > 1) keys.sort();
  let text = String(r.ts);
  for (const k of keys) text += `|${k}=${String(r.values[k])}`;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}
