import { merge } from './aggregate.js';
import {
  addValues,
  restoreMetrics,
  snapshotMetrics,
  type ClosedWindowSink,
  type Metrics,
  type MetricsSnapshot,
  type WindowOperator,
  type WindowSettings,
  type WindowSpec,
} from './windows.js';

interface Session {
  start: number;
  /** Highest event time in the session; the session ends at last + gap. */
  last: number;
  metrics: Metrics;
}

/**
 * Session windows: readings closer than `gap` in event time belong to one session [first, last + gap).
 * A reading that bridges two sessions merges them (the accumulators merge exactly).
 */
export class SessionWindows implements WindowOperator {
  /** Open sessions, sorted by start, never overlapping. */
  private sessions: Session[] = [];

  constructor(
    readonly spec: Extract<WindowSpec, { kind: 'session' }>,
    private readonly settings: WindowSettings,
  ) {}

  /** Adds the metric names its open sessions hold. */
  collectMetrics(into: Set<string>): void {
    for (const s of this.sessions) for (const name of s.metrics.keys()) into.add(name);
  }

  add(ts: number, values: Readonly<Record<string, number>>, watermark: number, text?: string): boolean {
    const gap = this.spec.gapMs;
    const overlapping = this.sessions.filter((s) => ts < s.last + gap && ts + gap > s.start);
    if (overlapping.length === 0 && ts + gap + this.settings.allowedLatenessMs <= watermark) return false;
    let target: Session;
    if (overlapping.length === 0) {
      target = { start: ts, last: ts, metrics: new Map() };
      this.sessions.push(target);
      this.sessions.sort((a, b) => a.start - b.start);
    } else {
      target = overlapping[0] as Session;
      for (const other of overlapping.slice(1)) {
        for (const [metric, acc] of other.metrics) {
          const into = target.metrics.get(metric);
          if (into === undefined) target.metrics.set(metric, acc);
          else merge(into, acc);
        }
        target.start = Math.min(target.start, other.start);
        target.last = Math.max(target.last, other.last);
      }
      this.sessions = this.sessions.filter((s) => s === target || !overlapping.includes(s));
      target.start = Math.min(target.start, ts);
      target.last = Math.max(target.last, ts);
    }
    addValues(target.metrics, values, ts, this.settings, text);
    return true;
  }

  close(watermark: number, sink: ClosedWindowSink): void {
    const gap = this.spec.gapMs;
    const lateness = this.settings.allowedLatenessMs;
    while (this.sessions.length > 0) {
      const first = this.sessions[0] as Session;
      const end = first.last + gap;
      if (end + lateness > watermark) return;
      this.sessions.shift();
      sink(first.start, end, first.metrics);
    }
  }

  get isEmpty(): boolean {
    return this.sessions.length === 0;
  }

  snapshot(): SessionSnapshot {
    return { sessions: this.sessions.map((s) => [s.start, s.last, snapshotMetrics(s.metrics)]) };
  }

  restore(s: SessionSnapshot): this {
    this.sessions = s.sessions.map(([start, last, m]) => ({ start, last, metrics: restoreMetrics(m) }));
    return this;
  }
}

export interface SessionSnapshot {
  readonly sessions: readonly (readonly [number, number, MetricsSnapshot])[];
}
