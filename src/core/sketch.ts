/**
 * DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with relative-error guarantees. Values are
 * counted in logarithmic buckets; any quantile estimate x̃ of the true x satisfies |x̃ − x| ≤ α·|x|.
 *
 * Why this sketch: it is fully mergeable (bucket counts add) and ORDER-INDEPENDENT: the same multiset
 * of values gives the same buckets whatever the arrival order, so replays after a crash and an
 * independent reference agree exactly. Memory grows with the log of the value range, not the count.
 */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;
/** Values closer to zero than this count as zero (log buckets cannot hold them). */
const MIN_INDEXABLE = 1e-9;

/**
 * Counts per bucket key over a contiguous key range: a plain array of small integers from `offset`
 * (DDSketch's "dense store"). A handful of keys cover a sensor's usual range, so this costs a few
 * hundred bytes where a Map would cost kilobytes.
 */
class DenseStore {
  offset = 0;
  /** Kept packed (every slot a number, never a hole): holey arrays are slower to read and write. */
  counts: number[] = [];

  add(key: number, by: number): void {
    this.cover(key, key);
    this.counts[key - this.offset] = (this.counts[key - this.offset] as number) + by;
  }

  /** Grows the range to hold keys lo..hi. */
  private cover(lo: number, hi: number): void {
    const counts = this.counts;
    if (counts.length === 0) {
      this.offset = lo;
      for (let k = lo; k <= hi; k++) counts.push(0);
      return;
    }
    if (lo < this.offset) {
      const grown: number[] = [];
      for (let k = lo; k < this.offset; k++) grown.push(0);
      for (const c of counts) grown.push(c);
      this.counts = grown;
      this.offset = lo;
    }
    for (let k = this.offset + this.counts.length; k <= hi; k++) this.counts.push(0);
  }

  /** Adds every bucket of `other` (no [key, count] pairs made on the way: merges run per window). */
  merge(other: DenseStore): void {
    const from = other.counts;
    if (from.length === 0) return;
    this.cover(other.offset, other.offset + from.length - 1);
    const shift = other.offset - this.offset;
    const counts = this.counts;
    for (let i = 0; i < from.length; i++)
      counts[shift + i] = (counts[shift + i] as number) + (from[i] as number);
  }

  /** The key of the bucket holding the rank-th value (0-based) counting from the lowest key, or undefined. */
  keyAtRank(rank: number): number | undefined {
    let seen = 0;
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i] as number;
      if (seen > rank) return this.offset + i;
    }
    return undefined;
  }

  /** Like keyAtRank, counting from the highest key. */
  keyAtRankFromTop(rank: number): number | undefined {
    let seen = 0;
    const counts = this.counts;
    for (let i = counts.length - 1; i >= 0; i--) {
      seen += counts[i] as number;
      if (seen > rank) return this.offset + i;
    }
    return undefined;
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  /** The highest key holding a value. */
  get maxKey(): number | undefined {
    for (let i = this.counts.length - 1; i >= 0; i--)
      if ((this.counts[i] as number) > 0) return this.offset + i;
    return undefined;
  }

  /** [key, count] of every non-empty bucket, by increasing key. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c > 0) out.push([this.offset + i, c]);
    });
    return out;
  }
}

export class QuantileSketch {
  private readonly logGamma: number;
  private readonly gamma: number;
  /** Positive values, and negative ones by magnitude; created on first use. */
  private positive: DenseStore | undefined;
  private negative: DenseStore | undefined;
  zeroCount = 0;
  count = 0;

  constructor(readonly relativeAccuracy: number = DEFAULT_RELATIVE_ACCURACY) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  private key(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma);
  }

  private bucketValue(key: number): number {
    return (2 * Math.pow(this.gamma, key)) / (this.gamma + 1);
  }

  add(value: number): void {
    this.count += 1;
    if (value > MIN_INDEXABLE) (this.positive ??= new DenseStore()).add(this.key(value), 1);
    else if (value < -MIN_INDEXABLE) (this.negative ??= new DenseStore()).add(this.key(-value), 1);
    else this.zeroCount += 1;
  }

  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError('cannot merge sketches of different relative accuracy');
    }
    if (other.positive !== undefined) (this.positive ??= new DenseStore()).merge(other.positive);
    if (other.negative !== undefined) (this.negative ??= new DenseStore()).merge(other.negative);
    this.zeroCount += other.zeroCount;
    this.count += other.count;
  }

  /** The q-quantile (0 ≤ q ≤ 1) as the value of rank floor(q·(count−1)), within the relative accuracy. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    let rank = Math.floor(Math.min(1, Math.max(0, q)) * (this.count - 1));
    // Negative values, from the most negative (largest magnitude) up.
    if (this.negative !== undefined) {
      const k = this.negative.keyAtRankFromTop(rank);
      if (k !== undefined) return -this.bucketValue(k);
      rank -= this.negative.total;
    }
    if (rank < this.zeroCount) return 0;
    rank -= this.zeroCount;
    const k = this.positive?.keyAtRank(rank);
    if (k !== undefined) return this.bucketValue(k);
    return this.bucketValue(this.positive?.maxKey ?? 0);
  }

  /** Compact, order-stable form for checkpoints: accuracy, zero count, [key, count] pairs by key. */
  toJSON(): SketchSnapshot {
    return {
      a: this.relativeAccuracy,
      z: this.zeroCount,
      p: this.positive?.entries() ?? [],
      n: this.negative?.entries() ?? [],
    };
  }

  static fromJSON(s: SketchSnapshot): QuantileSketch {
    const sketch = new QuantileSketch(s.a);
    sketch.zeroCount = s.z;
    sketch.count = s.z;
    for (const [k, c] of s.p) {
      (sketch.positive ??= new DenseStore()).add(k, c);
      sketch.count += c;
    }
    for (const [k, c] of s.n) {
      (sketch.negative ??= new DenseStore()).add(k, c);
      sketch.count += c;
    }
    return sketch;
  }
}

export interface SketchSnapshot {
  readonly a: number;
  readonly z: number;
  readonly p: readonly (readonly [number, number])[];
  readonly n: readonly (readonly [number, number])[];
}
