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

export class QuantileSketch {
  private readonly logGamma: number;
  private readonly gamma: number;
  /** bucket key -> count, for positive values and (by magnitude) for negative ones. */
  readonly positive = new Map<number, number>();
  readonly negative = new Map<number, number>();
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
    if (value > MIN_INDEXABLE) increment(this.positive, this.key(value), 1);
    else if (value < -MIN_INDEXABLE) increment(this.negative, this.key(-value), 1);
    else this.zeroCount += 1;
  }

  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError('cannot merge sketches of different relative accuracy');
    }
    for (const [k, c] of other.positive) increment(this.positive, k, c);
    for (const [k, c] of other.negative) increment(this.negative, k, c);
    this.zeroCount += other.zeroCount;
    this.count += other.count;
  }

  /** The q-quantile (0 ≤ q ≤ 1) as the value of rank floor(q·(count−1)), within the relative accuracy. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.floor(Math.min(1, Math.max(0, q)) * (this.count - 1));
    let seen = 0;
    // Negative values, from the most negative (largest magnitude) up.
    const negKeys = [...this.negative.keys()].sort((a, b) => b - a);
    for (const k of negKeys) {
      seen += this.negative.get(k) ?? 0;
      if (seen > rank) return -this.bucketValue(k);
    }
    seen += this.zeroCount;
    if (seen > rank) return 0;
    const posKeys = [...this.positive.keys()].sort((a, b) => a - b);
    for (const k of posKeys) {
      seen += this.positive.get(k) ?? 0;
      if (seen > rank) return this.bucketValue(k);
    }
    return this.bucketValue(posKeys[posKeys.length - 1] ?? 0);
  }

  /** Compact, order-stable form for checkpoints: [accuracy, zero, [key, count]..., [key, count]...]. */
  toJSON(): SketchSnapshot {
    const entries = (m: Map<number, number>): [number, number][] =>
      [...m.entries()].sort((a, b) => a[0] - b[0]);
    return {
      a: this.relativeAccuracy,
      z: this.zeroCount,
      p: entries(this.positive),
      n: entries(this.negative),
    };
  }

  static fromJSON(s: SketchSnapshot): QuantileSketch {
    const sketch = new QuantileSketch(s.a);
    sketch.zeroCount = s.z;
    sketch.count = s.z;
    for (const [k, c] of s.p) {
      sketch.positive.set(k, c);
      sketch.count += c;
    }
    for (const [k, c] of s.n) {
      sketch.negative.set(k, c);
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

function increment(map: Map<number, number>, key: number, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
