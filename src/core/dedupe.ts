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

  constructor(private readonly horizonMs: number) {}

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

  restore(s: DedupeSnapshot): this {
    this.maxTs = s.max ?? Number.NEGATIVE_INFINITY;
    if ('seen' in s) this.seen = new Map(s.seen);
    else {
      const keys = Buffer.from(s.keys, 'base64');
      const times = Buffer.from(s.times, 'base64');
      this.seen = new Map();
      for (let i = 0; i + 8 <= keys.length; i += 8)
        this.seen.set(keys.readDoubleLE(i), times.readDoubleLE(i));
    }
    this.sinceSweep = 0;
    return this;
  }
}

/** Checkpoint form, v2: packed (see snapshot()). Version 1 checkpoints hold `seen` pairs, still read. */
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
