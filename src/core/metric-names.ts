/**
 * The metric names one sensor holds state for (window panes, rollups, raw minutes), bounded by
 * limits.maxMetricsPerSensor: a reading with a name beyond it is refused (a dead letter naming the
 * limit), and the names the sensor has go on being counted. So a device whose firmware puts a counter
 * in its metric names cannot make a node's memory, its checkpoints or Redis' rollups grow without bound.
 *
 * The set grows with what is taken, and only when it is full is it cut back to the names the sensor's
 * open panes still hold (names whose windows have all closed cost nothing any more). That makes a
 * restored sensor decide exactly as an uninterrupted one: it starts from the names in its open panes, a
 * subset of what the other holds, and both cut to the same set at the same reading when full.
 */
export class MetricNames {
  private readonly names = new Set<string>();

  constructor(
    private readonly max: number,
    /** Only these metrics are kept (pipeline.metrics); undefined: every metric. */
    private readonly kept: ReadonlySet<string> | undefined,
    /** Adds the names the sensor's open panes hold. */
    private readonly held: (into: Set<string>) => void,
  ) {}

  /** undefined when the reading may be taken (its names are noted), else the first name over the limit. */
  admit(values: Readonly<Record<string, number>>): string | undefined {
    let fresh = this.fresh(values);
    if (fresh.count === 0) return undefined;
    if (this.names.size + fresh.count > this.max) {
      this.restore();
      fresh = this.fresh(values);
      if (this.names.size + fresh.count > this.max) return fresh.first;
    }
    for (const name in values) if (this.kept === undefined || this.kept.has(name)) this.names.add(name);
    return undefined;
  }

  /** The names of `values` not held yet, and the first of them. */
  private fresh(values: Readonly<Record<string, number>>): { count: number; first: string | undefined } {
    let count = 0;
    let first: string | undefined;
    for (const name in values) {
      if (this.names.has(name) || (this.kept !== undefined && !this.kept.has(name))) continue;
      count += 1;
      first ??= name;
    }
    return { count, first };
  }

  /** The names of the open panes only (after a restore, and when full). */
  restore(): void {
    this.names.clear();
    this.held(this.names);
  }

  get size(): number {
    return this.names.size;
  }
}
