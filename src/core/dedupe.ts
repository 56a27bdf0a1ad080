import type { Reading } from './reading.js';

/**
 * Drops repeated readings of one sensor: the same sequence number, or the same event time and values,
 * seen within `horizonMs` of event time. Entries older than the horizon (relative to the sensor's
 * highest event time) are forgotten, so memory is bounded by the horizon and the sensor's rate.
 */
export class Deduplicator {
  /** key -> event time of the reading that claimed it. Insertion order ~ event time order. */
  private seen = new Map<string, number>();
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
    const fingerprint = `f${r.ts}${valuesKey(r.values)}`;
    const seqKey = r.seq === undefined ? undefined : `s${r.seq}`;
    const cutoff = this.maxTs - this.horizonMs;
    if (this.fresh(fingerprint, cutoff) || (seqKey !== undefined && this.fresh(seqKey, cutoff))) return true;
    this.seen.set(fingerprint, r.ts);
    if (seqKey !== undefined) this.seen.set(seqKey, r.ts);
    if (r.ts > this.maxTs) this.maxTs = r.ts;
    if (++this.sinceSweep >= 64) this.sweep();
    return false;
  }

  private fresh(key: string, cutoff: number): boolean {
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

  snapshot(): DedupeSnapshot {
    this.sweep();
    return { max: Number.isFinite(this.maxTs) ? this.maxTs : null, seen: [...this.seen] };
  }

  restore(s: DedupeSnapshot): this {
    this.maxTs = s.max ?? Number.NEGATIVE_INFINITY;
    this.seen = new Map(s.seen);
    this.sinceSweep = 0;
    return this;
  }
}

export interface DedupeSnapshot {
  readonly max: number | null;
  readonly seen: readonly (readonly [string, number])[];
}

/** Canonical text of a reading's values: keys sorted, so field order does not matter. */
function valuesKey(values: Readonly<Record<string, number>>): string {
  const keys = Object.keys(values);
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const k of keys) out += `|${k}=${String(values[k])}`;
  return out;
}
