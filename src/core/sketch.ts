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
  counts: number[] = [];

  add(key: number, by: number): void {
    if (this.counts.length === 0) {
      this.offset = key;
      this.counts.push(by);
      return;
    }
    if (key < this.offset) {
      const grow = this.offset - key;
      this.counts = new Array<number>(grow).fill(0).concat(this.counts);
      this.offset = key;
    } else if (key >= this.offset + this.counts.length) {
      for (let i = this.offset + this.counts.length; i <= key; i++) this.counts.push(0);
    }
    this.counts[key - this.offset] = (this.counts[key - this.offset] ?? 0) + by;
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
    for (const [k, c] of other.positive?.entries() ?? []) (this.positive ??= new DenseStore()).add(k, c);
    for (const [k, c] of other.negative?.entries() ?? []) (this.negative ??= new DenseStore()).add(k, c);
    this.zeroCount += other.zeroCount;
    this.count += other.count;
  }

  /** The q-quantile (0 ≤ q ≤ 1) as the value of rank floor(q·(count−1)), within the relative accuracy. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.floor(Math.min(1, Math.max(0, q)) * (this.count - 1));
    let seen = 0;
    // Negative values, from the most negative (largest magnitude) up.
    const neg = this.negative?.entries() ?? [];
    for (let i = neg.length - 1; i >= 0; i--) {
      const [k, c] = neg[i] as [number, number];
      seen += c;
      if (seen > rank) return -this.bucketValue(k);
    }
    seen += this.zeroCount;
    if (seen > rank) return 0;
    const pos = this.positive?.entries() ?? [];
    for (const [k, c] of pos) {
      seen += c;
      if (seen > rank) return this.bucketValue(k);
    }
    return this.bucketValue(pos[pos.length - 1]?.[0] ?? 0);
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
