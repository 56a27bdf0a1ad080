import type { Reading } from './reading.js';

/**
 * Drops repeated readings of one sensor. A repeat is a reading SENT AGAIN: one with the same event
 * time as a reading already taken and either the same values or the same sequence number. Nothing
 * else is: a device that reboots and numbers its readings from 0 again sends seq 0 at a new event
 * time, which is a new reading, however recently the old seq 0 was seen.
 *
 * Judged within `horizonMs` of event time behind the sensor's newest reading: readings older than
 * that are neither remembered nor checked (such a reading is late for every window in any pipeline
 * whose horizon covers out-of-orderness, allowed lateness and its longest window, as the default's
 * 5 minutes do). Whether a reading is a repeat depends only on the readings taken before it, never on
 * when memory was freed, so a replay after a restore decides the same.
 *
 * Memory, 16 bytes per reading remembered, in three typed arrays kept in event-time order: the time
 * (float64), a 32-bit hash of the values (never 0) and seq + 1 (0: none). Readings mostly come in
 * order, so an insert is an append and a lookup checks the last entry; a reading out of order is a
 * binary search and a short move. A false "repeat" needs two different readings of one sensor at the
 * same millisecond whose values share a 32-bit hash: about 2^-32 per such pair.
 */
export class Deduplicator {
  private ts = new Float64Array(INITIAL);
  private vh = new Uint32Array(INITIAL);
  private sq = new Uint32Array(INITIAL);
  /** Entries live in [head, end) of the arrays, in event-time order. */
  private head = 0;
  private end = 0;
  private maxTs = Number.NEGATIVE_INFINITY;
  /**
   * Incremental checkpoints: the index is stored in segments of `segMs` of event time (an entry's
   * segment is floor(ts / segMs)). A checkpoint appends the entries added since the last one to their
   * segments, and removes the segments wholly past the horizon (changes()): it costs the readings
   * since, not the index.
   */
  private readonly segMs: number;
  /** Entries added since the last checkpoint: ts, values hash, seq code, ... in order. */
  private added: number[] = [];
  /** Segments the store holds as of the last checkpoint. */
  private stored: number[] = [];
  /** The next checkpoint writes every segment whole (restored from an older form, or recut). */
  private rewrite = false;

  constructor(private readonly horizonMs: number) {
    this.segMs = Math.max(1_000, Math.ceil(horizonMs / 16));
  }

  /** True when the reading repeats one taken within the horizon (and records it otherwise). */
  isDuplicate(r: Reading): boolean {
    if (this.horizonMs <= 0 || r.ts < this.maxTs - this.horizonMs) return false;
    const vh = valuesHash(r);
    const sq = r.seq === undefined ? 0 : seqCode(r.seq);
    let i = this.lowerBound(r.ts);
    const ts = this.ts;
    for (; i < this.end && ts[i] === r.ts; i++)
      if (this.vh[i] === vh || (sq !== 0 && this.sq[i] === sq)) return true;
    this.insert(i, r.ts, vh, sq);
    this.added.push(r.ts, vh, sq);
    if (r.ts > this.maxTs) {
      this.maxTs = r.ts;
      this.expire();
    }
    return false;
  }

  /** Entries remembered. */
  get size(): number {
    return this.end - this.head;
  }

  /** Bytes the entries' arrays hold (capacity, not only the entries). */
  get bytes(): number {
    return this.ts.length * 16;
  }

  /** The first entry at or after `t`; readings mostly come in order, so the end is tried first. */
  private lowerBound(t: number): number {
    const ts = this.ts;
    let lo = this.head;
    let hi = this.end;
    if (hi === lo || (ts[hi - 1] as number) < t) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(at: number, t: number, vh: number, sq: number): void {
    if (this.end === this.ts.length) at = this.makeRoom(at);
    if (at < this.end) {
      this.ts.copyWithin(at + 1, at, this.end);
      this.vh.copyWithin(at + 1, at, this.end);
      this.sq.copyWithin(at + 1, at, this.end);
    }
    this.ts[at] = t;
    this.vh[at] = vh;
    this.sq[at] = sq;
    this.end += 1;
  }

  /** Moves the live entries to the front, growing the arrays when they are over half full; returns `at` moved. */
  private makeRoom(at: number): number {
    const live = this.end - this.head;
    const capacity = live * 2 >= this.ts.length ? this.ts.length * 2 : this.ts.length;
    const move = <A extends Float64Array | Uint32Array>(a: A, fresh: A): A => {
      fresh.set(a.subarray(this.head, this.end));
      return fresh;
    };
    this.ts = move(this.ts, new Float64Array(capacity));
    this.vh = move(this.vh, new Uint32Array(capacity));
    this.sq = move(this.sq, new Uint32Array(capacity));
    const moved = at - this.head;
    this.head = 0;
    this.end = live;
    return moved;
  }

  /** Forgets entries past the horizon (they are never checked again: see isDuplicate). */
  private expire(): void {
    const cutoff = this.maxTs - this.horizonMs;
    const ts = this.ts;
    while (this.head < this.end && (ts[this.head] as number) < cutoff) this.head += 1;
    if (this.head === this.end) this.head = this.end = 0;
  }

  /** Every entry remembered, as ts, values hash, seq code triples in event-time order. */
  entries(): number[] {
    const out = new Array<number>((this.end - this.head) * 3);
    for (let i = this.head, j = 0; i < this.end; i++, j += 3) {
      out[j] = this.ts[i] as number;
      out[j + 1] = this.vh[i] as number;
      out[j + 2] = this.sq[i] as number;
    }
    return out;
  }

  /** The whole index (the form inspection shows and whole-record checkpoints held). */
  snapshot(): DedupeSnapshot {
    return {
      max: Number.isFinite(this.maxTs) ? this.maxTs : null,
      entries: packEntries(this.entries(), 0).toString('base64'),
    };
  }

  /**
   * What a checkpoint writes of the index: the entries added since the last call, grouped by segment,
   * to append to the segments the store holds or to write as new ones; and the stored segments to
   * remove, wholly past the horizon. After a restore from an older form (or with another segment
   * length), every segment is written whole instead. The index says which segments the store holds
   * after this checkpoint.
   */
  changes(): DedupeChanges {
    const cutoff = this.maxTs - this.horizonMs;
    const expired = (seg: number): boolean => (seg + 1) * this.segMs <= cutoff;
    const write = new Map<number, number[]>();
    const append = new Map<number, number[]>();
    const into = (to: Map<number, number[]>, seg: number, t: number, vh: number, sq: number): void => {
      const entries = to.get(seg);
      if (entries === undefined) to.set(seg, [t, vh, sq]);
      else entries.push(t, vh, sq);
    };
    let removed: number[];
    if (this.rewrite) {
      for (let i = this.head; i < this.end; i++) {
        const t = this.ts[i] as number;
        const seg = Math.floor(t / this.segMs);
        if (!expired(seg)) into(write, seg, t, this.vh[i] as number, this.sq[i] as number);
      }
      removed = this.stored.filter((seg) => !write.has(seg));
      this.stored = [...write.keys()];
    } else {
      const added = this.added;
      const stored = new Set(this.stored);
      for (let i = 0; i + 2 < added.length; i += 3) {
        const t = added[i] as number;
        const seg = Math.floor(t / this.segMs);
        if (expired(seg)) continue;
        into(stored.has(seg) ? append : write, seg, t, added[i + 1] as number, added[i + 2] as number);
      }
      removed = this.stored.filter(expired);
      this.stored = [...this.stored.filter((seg) => !expired(seg)), ...write.keys()];
    }
    this.stored.sort((x, y) => x - y);
    this.added = [];
    this.rewrite = false;
    return {
      index: {
        k: 2,
        max: Number.isFinite(this.maxTs) ? this.maxTs : null,
        seg: this.segMs,
        segs: [...this.stored],
      },
      write,
      append,
      removed,
    };
  }

  /**
   * Restores from an index and its segments' entries (ts, values hash, seq code triples). Nothing to
   * write until it changes, unless the index is of an older form (entries upgraded on decoding, see
   * checkpoint-legacy.ts) or was cut with another segment length: then the next checkpoint replaces
   * the stored segments whole.
   */
  restoreSegments(index: DedupeIndex, segments: ReadonlyMap<number, readonly number[]>): this {
    this.maxTs = index.max ?? Number.NEGATIVE_INFINITY;
    const all: number[] = [];
    for (const seg of index.segs) {
      const entries = segments.get(seg);
      if (entries === undefined) throw new RangeError(`dedupe segment ${seg} is missing`);
      for (const x of entries) all.push(x);
    }
    const n = Math.floor(all.length / 3);
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => (all[a * 3] as number) - (all[b * 3] as number),
    );
    const capacity = Math.max(INITIAL, 1 << Math.ceil(Math.log2(n + 1)));
    this.ts = new Float64Array(capacity);
    this.vh = new Uint32Array(capacity);
    this.sq = new Uint32Array(capacity);
    order.forEach((from, to) => {
      this.ts[to] = all[from * 3] as number;
      this.vh[to] = all[from * 3 + 1] as number;
      this.sq[to] = all[from * 3 + 2] as number;
    });
    this.head = 0;
    this.end = n;
    this.expire();
    this.stored = [...index.segs];
    this.added = [];
    this.rewrite = index.k !== 2 || index.seg !== this.segMs;
    return this;
  }
}

const INITIAL = 16;
const HASH_SPAN = 0xffffffff;

/** A 32-bit hash of a reading's event time and values, never 0 (0 marks an entry with no values hash). */
export function valuesHash(r: Reading): number {
  return (fingerprintHash(r) % HASH_SPAN) + 1;
}

/** seq + 1, in 32 bits and never 0 (0: no seq). Compared only between readings of the same millisecond. */
export function seqCode(seq: number): number {
  return (seq % HASH_SPAN) + 1;
}

/** The dedupe index in a version 3 or 4 checkpoint: its segments are parts of their own. */
export interface DedupeIndex {
  /** 2: entries are (ts, values hash, seq code) triples; absent: version 3 key/ts pairs, upgraded on reading. */
  readonly k?: 2;
  readonly max: number | null;
  /** Segment length, ms of event time. */
  readonly seg: number;
  /** The segments stored. */
  readonly segs: readonly number[];
}

export interface DedupeChanges {
  readonly index: DedupeIndex;
  /** Segments to write whole: segment -> its ts, values hash, seq code triples. */
  readonly write: ReadonlyMap<number, readonly number[]>;
  /** Triples to append to segments the store holds. */
  readonly append: ReadonlyMap<number, readonly number[]>;
  readonly removed: readonly number[];
}

/**
 * The whole index in one record: today's packed triples (see packEntries), or the key/ts forms of
 * checkpoint versions 1 (JSON pairs) and 2 (packed float64s), upgraded in core/checkpoint-legacy.ts.
 */
export type DedupeSnapshot =
  | { readonly max: number | null; readonly entries: string }
  | { readonly max: number | null; readonly keys: string; readonly times: string }
  | { readonly max: number | null; readonly seen: readonly (readonly [number, number])[] };

/** Bytes per packed entry: float64 ts, uint32 values hash, uint32 seq code, little-endian. */
export const ENTRY_BYTES = 16;

/** Triples packed after `header` bytes (appended entries carry no header of their own). */
export function packEntries(triples: readonly number[], header: number): Buffer {
  const n = Math.floor(triples.length / 3);
  const bytes = Buffer.allocUnsafe(header + n * ENTRY_BYTES);
  for (let i = 0, at = header; i < n; i++, at += ENTRY_BYTES) {
    bytes.writeDoubleLE(triples[i * 3] as number, at);
    bytes.writeUInt32LE(triples[i * 3 + 1] as number, at + 8);
    bytes.writeUInt32LE(triples[i * 3 + 2] as number, at + 12);
  }
  return bytes;
}

/** The triples packed in `bytes` from `from` on. */
export function unpackEntries(bytes: Buffer, from: number): number[] {
  const n = Math.floor((bytes.length - from) / ENTRY_BYTES);
  const out = new Array<number>(n * 3);
  for (let i = 0, at = from; i < n; i++, at += ENTRY_BYTES) {
    out[i * 3] = bytes.readDoubleLE(at);
    out[i * 3 + 1] = bytes.readUInt32LE(at + 8);
    out[i * 3 + 2] = bytes.readUInt32LE(at + 12);
  }
  return out;
}

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
