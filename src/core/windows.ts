import {
  accumulate,
  addExemplar,
  exemplarsOf,
  finish,
  merge,
  newAccumulator,
  restoreAccumulator,
  snapshotAccumulator,
  type Accumulator,
  type AccumulatorSnapshot,
  type AggregateName,
} from './aggregate.js';
import { windowResultId, type WindowResult } from './outputs.js';

export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly name: string; readonly sizeMs: number }
  | { readonly kind: 'sliding'; readonly name: string; readonly sizeMs: number; readonly slideMs: number }
  | { readonly kind: 'session'; readonly name: string; readonly gapMs: number };

/** What every window operator of a pipeline shares. */
export interface WindowSettings {
  /** A window is final (emitted once) when the watermark reaches its end plus this. */
  readonly allowedLatenessMs: number;
  readonly aggregates: readonly AggregateName[];
  readonly withSketch: boolean;
  /** Only these metrics are aggregated; undefined means every metric of a reading. */
  readonly metrics: ReadonlySet<string> | undefined;
  /**
   * Keep the texts of readings that carry one of these metrics (log lines), at most `max` per window
   * and metric; a window result then lists them (`exemplars`), and a count rule's report with it.
   */
  readonly exemplars?: { readonly metrics: ReadonlySet<string>; readonly max: number } | undefined;
}

type Metrics = Map<string, Accumulator>;
export type MetricsSnapshot = [metric: string, acc: AccumulatorSnapshot][];

/** Receives each closed window: its bounds and the final accumulator of every metric in it. */
export type ClosedWindowSink = (
  start: number,
  end: number,
  metrics: ReadonlyMap<string, Accumulator>,
) => void;

/**
 * Window operators hold the open windows of ONE sensor for ONE window spec.
 *
 *  add(ts, values, watermark)  -> false when every window the reading belongs to is already final
 *                                 (the caller sends it to vigil.late); true when it was counted
 *  close(watermark, sink)      -> hands over, in order, each window whose end + allowed lateness ≤ watermark
 *
 * A window is emitted exactly once; a reading that belongs to several windows (sliding) is counted in
 * those still open, as Flink does.
 */
export interface WindowOperator {
  readonly spec: WindowSpec;
  add(ts: number, values: Readonly<Record<string, number>>, watermark: number, text?: string): boolean;
  close(watermark: number, sink: ClosedWindowSink): void;
  readonly isEmpty: boolean;
  snapshot(): unknown;
}

function addValues(
  metrics: Metrics,
  values: Readonly<Record<string, number>>,
  ts: number,
  s: WindowSettings,
  text: string | undefined,
): void {
  for (const metric in values) {
    if (s.metrics !== undefined && !s.metrics.has(metric)) continue;
    const value = values[metric];
    if (value === undefined) continue;
    let acc = metrics.get(metric);
    if (acc === undefined) {
      acc = newAccumulator(s.withSketch);
      metrics.set(metric, acc);
    }
    accumulate(acc, value, ts);
    if (text !== undefined && s.exemplars?.metrics.has(metric) === true)
      addExemplar(acc, text, s.exemplars.max);
  }
}

/** Turns a closed window into one WindowResult per metric (sorted by metric) with the configured aggregates. */
export function windowResults(
  metrics: ReadonlyMap<string, Accumulator>,
  spec: WindowSpec,
  sensorId: string,
  start: number,
  end: number,
  s: WindowSettings,
  out: WindowResult[],
): void {
  for (const metric of [...metrics.keys()].sort()) {
    const acc = metrics.get(metric);
    if (acc === undefined || acc.count === 0) continue;
    const ex = s.exemplars === undefined ? undefined : exemplarsOf(acc, s.exemplars.max);
    out.push({
      id: windowResultId(sensorId, spec.name, metric, start),
      sensorId,
      metric,
      window: spec.name,
      start,
      end,
      count: acc.count,
      ...finish(acc, s.aggregates, end - start),
      ...(ex === undefined ? {} : { exemplars: ex.exemplars, exemplarsOmitted: ex.omitted }),
    });
  }
}

const snapshotMetrics = (m: Metrics): MetricsSnapshot => [...m].map(([k, a]) => [k, snapshotAccumulator(a)]);
const restoreMetrics = (s: MetricsSnapshot): Metrics =>
  new Map(s.map(([k, a]) => [k, restoreAccumulator(a)]));

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const floorTo = (t: number, step: number): number => t - (((t % step) + step) % step);

/**
 * Tumbling and sliding (hopping) windows over panes. A pane is a slice of length gcd(size, slide);
 * each reading updates exactly one pane, and a window is the merge of its size/pane panes at emission.
 * So a reading costs O(1) whatever the overlap, and memory holds panes, not overlapping windows.
 * Windows start at multiples of the slide (epoch-aligned); tumbling is sliding with slide = size.
 */
export class PaneWindows implements WindowOperator {
  private readonly size: number;
  private readonly slide: number;
  private readonly pane: number;
  /** pane start -> metrics. */
  private panes = new Map<number, Metrics>();
  /** End of the next window to consider for emission; every window ending before it is final. */
  private nextEnd = Number.NEGATIVE_INFINITY;
  /**
   * Incremental checkpoints (changes()): each pane is a part of its own, written when a reading
   * changed it since the last checkpoint. In real time that is the newest pane: one in six of a
   * 1 min / 10 s sliding window's.
   */
  private dirty: number[] = [];
  /** Pane starts the store holds as of the last checkpoint. */
  private stored: number[] = [];

  constructor(
    readonly spec: Extract<WindowSpec, { kind: 'tumbling' | 'sliding' }>,
    private readonly settings: WindowSettings,
  ) {
    this.size = spec.sizeMs;
    this.slide = spec.kind === 'sliding' ? spec.slideMs : spec.sizeMs;
    this.pane = gcd(this.size, this.slide);
  }

  /** End of the last window that contains `ts`. */
  private lastEndOf(ts: number): number {
    return floorTo(ts, this.slide) + this.size;
  }

  add(ts: number, values: Readonly<Record<string, number>>, watermark: number, text?: string): boolean {
    if (this.lastEndOf(ts) + this.settings.allowedLatenessMs <= watermark) return false;
    const start = floorTo(ts, this.pane);
    let metrics = this.panes.get(start);
    if (metrics === undefined) {
      metrics = new Map();
      this.panes.set(start, metrics);
    }
    addValues(metrics, values, ts, this.settings, text);
    // Most readings land in the pane the last one did: skip the search then.
    if (this.dirty[this.dirty.length - 1] !== start && !this.dirty.includes(start)) this.dirty.push(start);
    return true;
  }

  close(watermark: number, sink: ClosedWindowSink): void {
    const lateness = this.settings.allowedLatenessMs;
    while (this.panes.size > 0) {
      // Skip empty windows: the first window worth emitting is the first one holding the oldest pane.
      let oldest = Number.POSITIVE_INFINITY;
      for (const start of this.panes.keys()) if (start < oldest) oldest = start;
      const firstEnd = floorTo(oldest - this.size, this.slide) + this.slide + this.size;
      const end = Math.max(this.nextEnd, firstEnd);
      if (end + lateness > watermark) return;
      const start = end - this.size;
      // Merge the window's panes in TIME order, never in the map's insertion order: floating-point
      // merges depend on order, and insertion order depends on arrival (and differs after a restore),
      // so only time order gives the same bits on every run and replay.
      const merged: Metrics = new Map();
      for (let paneStart = start; paneStart < end; paneStart += this.pane) {
        const metrics = this.panes.get(paneStart);
        if (metrics === undefined) continue;
        for (const [metric, acc] of metrics) {
          let into = merged.get(metric);
          if (into === undefined) {
            into = newAccumulator(false);
            merged.set(metric, into);
          }
          merge(into, acc);
        }
      }
      sink(start, end, merged);
      this.nextEnd = end + this.slide;
      // Panes before the next window's start belong to no window that is still open.
      const keepFrom = this.nextEnd - this.size;
      for (const paneStart of [...this.panes.keys()]) if (paneStart < keepFrom) this.panes.delete(paneStart);
    }
  }

  get isEmpty(): boolean {
    return this.panes.size === 0;
  }

  snapshot(): PaneSnapshot {
    return {
      next: Number.isFinite(this.nextEnd) ? this.nextEnd : null,
      panes: [...this.panes].sort((a, b) => a[0] - b[0]).map(([start, m]) => [start, snapshotMetrics(m)]),
    };
  }

  /** Restores every pane at once (checkpoint versions 1 and 2): the next checkpoint writes them all. */
  restore(s: PaneSnapshot): this {
    this.nextEnd = s.next ?? Number.NEGATIVE_INFINITY;
    this.panes = new Map(s.panes.map(([start, m]) => [start, restoreMetrics(m)]));
    this.stored = [];
    this.dirty = [...this.panes.keys()];
    return this;
  }

  /**
   * What a checkpoint writes: the index (next end, the panes held), every pane changed since the last
   * call, and the stored panes that are gone (their windows were emitted).
   */
  changes(): PaneChanges {
    const write = new Map<number, MetricsSnapshot>();
    for (const start of this.dirty) {
      const m = this.panes.get(start);
      if (m !== undefined) write.set(start, snapshotMetrics(m));
    }
    const panes = [...this.panes.keys()].sort((a, b) => a - b);
    const removed = this.stored.filter((start) => !this.panes.has(start));
    this.stored = panes;
    this.dirty = [];
    return { index: { next: Number.isFinite(this.nextEnd) ? this.nextEnd : null, panes }, write, removed };
  }

  /** Restores from an index and its panes (checkpoint version 3): nothing to write until it changes. */
  restoreIndexed(index: PaneIndex, panes: ReadonlyMap<number, MetricsSnapshot>): this {
    this.nextEnd = index.next ?? Number.NEGATIVE_INFINITY;
    this.panes = new Map();
    for (const start of index.panes) {
      const m = panes.get(start);
      if (m === undefined) throw new RangeError(`pane ${start} of ${this.spec.name} is missing`);
      this.panes.set(start, restoreMetrics(m));
    }
    this.stored = [...index.panes];
    this.dirty = [];
    return this;
  }
}

/** A pane window operator in a version 3 checkpoint: its panes are parts of their own. */
export interface PaneIndex {
  readonly next: number | null;
  readonly panes: readonly number[];
}

export interface PaneChanges {
  readonly index: PaneIndex;
  readonly write: ReadonlyMap<number, MetricsSnapshot>;
  readonly removed: readonly number[];
}

export interface PaneSnapshot {
  readonly next: number | null;
  readonly panes: readonly (readonly [number, MetricsSnapshot])[];
}

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

export function createWindowOperator(
  spec: WindowSpec,
  settings: WindowSettings,
): PaneWindows | SessionWindows {
  return spec.kind === 'session' ? new SessionWindows(spec, settings) : new PaneWindows(spec, settings);
}
