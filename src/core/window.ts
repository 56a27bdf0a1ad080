import { accumulate, finish, newAccumulator, type Accumulator } from './aggregate.js';
import { windowResultId, type WindowResult } from './outputs.js';

export interface TumblingWindowSpec {
  readonly kind: 'tumbling';
  /** Name used in results and ids, e.g. `tumbling-10s`. */
  readonly name: string;
  readonly sizeMs: number;
}

/**
 * Tumbling event-time windows of one sensor, all metrics. A window [start, start + size) is open until
 * the sensor's watermark reaches its end; then it is emitted once and forgotten.
 */
export class TumblingWindows {
  /** start -> metric -> accumulator. A handful of entries: only windows not yet passed by the watermark. */
  private readonly open = new Map<number, Map<string, Accumulator>>();

  constructor(readonly spec: TumblingWindowSpec) {}

  windowStart(ts: number): number {
    return ts - (((ts % this.spec.sizeMs) + this.spec.sizeMs) % this.spec.sizeMs);
  }

  /** True when the window that `ts` falls in was already closed by `watermark`. */
  isLate(ts: number, watermark: number): boolean {
    return this.windowStart(ts) + this.spec.sizeMs <= watermark;
  }

  add(ts: number, values: Readonly<Record<string, number>>, metrics: ReadonlySet<string> | undefined): void {
    const start = this.windowStart(ts);
    let byMetric = this.open.get(start);
    if (byMetric === undefined) {
      byMetric = new Map();
      this.open.set(start, byMetric);
    }
    for (const metric in values) {
      if (metrics !== undefined && !metrics.has(metric)) continue;
      const value = values[metric];
      if (value === undefined) continue;
      let acc = byMetric.get(metric);
      if (acc === undefined) {
        acc = newAccumulator();
        byMetric.set(metric, acc);
      }
      accumulate(acc, value);
    }
  }

  /** Emits, in order of start then metric name, every open window whose end is at or before `watermark`. */
  closeUpTo(watermark: number, sensorId: string, out: WindowResult[]): void {
    if (this.open.size === 0) return;
    const due: number[] = [];
    for (const start of this.open.keys()) if (start + this.spec.sizeMs <= watermark) due.push(start);
    if (due.length === 0) return;
    due.sort((a, b) => a - b);
    for (const start of due) {
      const byMetric = this.open.get(start);
      this.open.delete(start);
      if (byMetric === undefined) continue;
      const metrics = [...byMetric.keys()].sort();
      for (const metric of metrics) {
        const acc = byMetric.get(metric);
        if (acc === undefined || acc.count === 0) continue;
        out.push({
          id: windowResultId(sensorId, this.spec.name, metric, start),
          sensorId,
          metric,
          window: this.spec.name,
          start,
          end: start + this.spec.sizeMs,
          ...finish(acc),
        });
      }
    }
  }

  get openWindowCount(): number {
    return this.open.size;
  }
}
