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
  readonly exemplars?:
    | { readonly metrics: ReadonlySet<string>; readonly max: number; readonly maxLength?: number | undefined }
    | undefined;
}

export type Metrics = Map<string, Accumulator>;
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

export function addValues(
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
      addExemplar(acc, cutText(text, s.exemplars.maxLength), s.exemplars.max);
  }
}

/** Turns a closed window into one WindowResult per metric (sorted by metric) with the configured aggregates. */
/** An exemplar's text, cut to `maxLength` characters with a note of how long it was. */
function cutText(text: string, maxLength: number | undefined): string {
  if (maxLength === undefined || text.length <= maxLength) return text;
  return `${text.slice(0, maxLength)}… [${text.length - maxLength} more characters]`;
}

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

export const snapshotMetrics = (m: Metrics): MetricsSnapshot =>
  [...m].map(([k, a]) => [k, snapshotAccumulator(a)]);
export const restoreMetrics = (s: MetricsSnapshot): Metrics =>
  new Map(s.map(([k, a]) => [k, restoreAccumulator(a)]));

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const floorTo = (t: number, step: number): number => t - (((t % step) + step) % step);

type PaneSpec = Extract<WindowSpec, { kind: 'tumbling' | 'sliding' }>;

/** One window spec reading a pane group: what it has emitted. */
interface PaneView {
  readonly spec: PaneSpec;
  readonly size: number;
  readonly slide: number;
  /** End of the next window to consider for emission; every window ending before it is final. */
  nextEnd: number;
}

/** The pane length of a tumbling or sliding spec: gcd(size, slide). */
export const paneLength = (spec: PaneSpec): number =>
  spec.kind === 'sliding' ? gcd(spec.sizeMs, spec.slideMs) : spec.sizeMs;

/**
 * Tumbling and sliding (hopping) windows over panes, for ONE sensor. A pane is a slice of event time
 * (gcd of size and slide); each reading updates exactly one pane, and a window is the merge of its
 * panes at emission: a reading costs O(1) whatever the overlap, and memory holds panes, not
 * overlapping windows. Windows start at multiples of their slide (epoch-aligned); tumbling is sliding
 * with slide = size.
 *
 * Several specs with the same pane length SHARE one group's panes (each spec is a view with its own
 * emission point): the default pipeline's tumbling 10 s and sliding 1 min / 10 s windows would
 * otherwise count every reading twice, into identical panes. A pane holds exactly the readings some
 * view took, and a view never reads a pane holding a reading it found late: "late for a view" means
 * every window of it containing that pane is final, and a view's next window end moves past the
 * windows the watermark made final at every close, emitted or empty (the sensor closes windows
 * whenever its watermark moves, before the next reading). So each view sees exactly the panes it would
 * own alone.
 */
export class PaneGroup {
  readonly paneMs: number;
  private readonly views: PaneView[];
  /** pane start -> metrics. */
  private panes = new Map<number, Metrics>();
  /**
   * Incremental checkpoints (changes()): each pane is a part of its own, written when a reading
   * changed it since the last checkpoint. In real time that is the newest pane: one in six of a
   * 1 min / 10 s sliding window's.
   */
  private dirty: number[] = [];
  /** Pane starts the store holds as of the last checkpoint. */
  private stored: number[] = [];

  constructor(
    specs: readonly PaneSpec[],
    private readonly settings: WindowSettings,
  ) {
    this.views = specs.map((spec) => ({
      spec,
      size: spec.sizeMs,
      slide: spec.kind === 'sliding' ? spec.slideMs : spec.sizeMs,
      nextEnd: Number.NEGATIVE_INFINITY,
    }));
    this.paneMs = specs.reduce((g, spec) => gcd(g, paneLength(spec)), 0);
  }

  get specs(): readonly PaneSpec[] {
    return this.views.map((v) => v.spec);
  }

  /**
   * Counts the reading in its pane, unless every window of every view holding it is already final:
   * then it returns false and the caller sends the reading to vigil.late.
   */
  /** Adds the metric names its open panes hold. */
  collectMetrics(into: Set<string>): void {
    for (const metrics of this.panes.values()) for (const name of metrics.keys()) into.add(name);
  }

  add(ts: number, values: Readonly<Record<string, number>>, watermark: number, text?: string): boolean {
    const lateness = this.settings.allowedLatenessMs;
    let taken = false;
    for (const v of this.views) {
      // The end of the last window of this view holding ts.
      if (floorTo(ts, v.slide) + v.size + lateness > watermark) {
        taken = true;
        break;
      }
    }
    if (!taken) return false;
    const start = floorTo(ts, this.paneMs);
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

  /** Hands over, in order, each window of view `i` whose end + allowed lateness ≤ watermark. */
  closeView(i: number, watermark: number, sink: ClosedWindowSink): void {
    const v = this.views[i];
    if (v === undefined) return;
    const lateness = this.settings.allowedLatenessMs;
    // Every window ending before nextEnd is done (see below), so none is due while nextEnd is not
    // final: the case of nearly every reading, decided without looking at the panes.
    if (v.nextEnd + lateness > watermark) return;
    for (;;) {
      // Skip empty windows: the first window worth emitting is the first one holding the oldest pane
      // this view still needs (panes before its next window belong to other views, or are to go).
      const from = v.nextEnd - v.size;
      let oldest = Number.POSITIVE_INFINITY;
      for (const start of this.panes.keys()) if (start >= from && start < oldest) oldest = start;
      if (oldest === Number.POSITIVE_INFINITY) break;
      const firstEnd = floorTo(oldest - v.size, v.slide) + v.slide + v.size;
      const end = Math.max(v.nextEnd, firstEnd);
      if (end + lateness > watermark) break;
      const start = end - v.size;
      // Merge the window's panes in TIME order, never in the map's insertion order: floating-point
      // merges depend on order, and insertion order depends on arrival (and differs after a restore),
      // so only time order gives the same bits on every run and replay.
      const merged: Metrics = new Map();
      for (let paneStart = start; paneStart < end; paneStart += this.paneMs) {
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
      v.nextEnd = end + v.slide;
    }
    // Every window the watermark made final is done, emitted or empty: a reading that comes for one is
    // late for this view. Say so in nextEnd, or a pane another view opens for such a reading would
    // be emitted here as if this view had taken it.
    if (Number.isFinite(watermark))
      v.nextEnd = Math.max(v.nextEnd, floorTo(watermark - lateness - v.size, v.slide) + v.slide + v.size);
  }

  /** Drops the panes no view needs any more: those before every view's next window. */
  prune(): void {
    let keepFrom = Number.POSITIVE_INFINITY;
    for (const v of this.views) keepFrom = Math.min(keepFrom, v.nextEnd - v.size);
    for (const start of [...this.panes.keys()]) if (start < keepFrom) this.panes.delete(start);
  }

  get isEmpty(): boolean {
    return this.panes.size === 0;
  }

  /** View `i` in the whole-state form of checkpoint versions 1 and 2: its next end and its panes. */
  snapshotView(i: number): PaneSnapshot {
    const v = this.views[i];
    const from = v === undefined ? Number.POSITIVE_INFINITY : v.nextEnd - v.size;
    return {
      next: v !== undefined && Number.isFinite(v.nextEnd) ? v.nextEnd : null,
      panes: [...this.panes]
        .filter(([start]) => start >= from)
        .sort((a, b) => a[0] - b[0])
        .map(([start, m]) => [start, snapshotMetrics(m)]),
    };
  }

  /**
   * Restores from whole-state records by spec name (checkpoint versions 1 and 2, where each window
   * had panes of its own): the group's panes are their union (two views holding a pane hold the same
   * readings in it). The next checkpoint writes every pane.
   */
  restoreViews(snapshots: ReadonlyMap<string, PaneSnapshot>): this {
    this.panes = new Map();
    for (const v of this.views) {
      const s = snapshots.get(v.spec.name);
      if (s === undefined) continue; // a window spec added since the checkpoint starts empty
      v.nextEnd = s.next ?? Number.NEGATIVE_INFINITY;
      for (const [start, m] of s.panes) if (!this.panes.has(start)) this.panes.set(start, restoreMetrics(m));
    }
    this.stored = [];
    this.dirty = [...this.panes.keys()];
    return this;
  }

  /** Each view's next window end, by spec name (the group's part of a version 3 main record). */
  viewEnds(): [name: string, next: number | null][] {
    return this.views.map((v) => [v.spec.name, Number.isFinite(v.nextEnd) ? v.nextEnd : null]);
  }

  /**
   * What a checkpoint writes: the panes held, every pane changed since the last call, and the stored
   * panes that are gone (no view needs them).
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
    return { panes, write, removed };
  }

  /**
   * Restores from a version 3 checkpoint: each view's next end (a view not in it starts anew) and the
   * panes it lists. Nothing to write until something changes.
   */
  restoreIndexed(
    ends: ReadonlyMap<string, number | null>,
    starts: readonly number[],
    panes: ReadonlyMap<number, MetricsSnapshot>,
    inStore = true,
  ): this {
    for (const v of this.views) v.nextEnd = ends.get(v.spec.name) ?? Number.NEGATIVE_INFINITY;
    this.panes = new Map();
    for (const start of starts) {
      const m = panes.get(start);
      if (m === undefined) throw new RangeError(`pane ${start} of the ${this.paneMs} ms panes is missing`);
      this.panes.set(start, restoreMetrics(m));
    }
    // Not in the store (an upgraded older checkpoint): the next checkpoint writes every pane.
    this.stored = inStore ? [...starts] : [];
    this.dirty = inStore ? [] : [...starts];
    return this;
  }
}

/** Pane groups of a pipeline's tumbling and sliding specs: one per pane length, in first-seen order. */
export function paneGroups(specs: readonly WindowSpec[], settings: WindowSettings): PaneGroup[] {
  const byLength = new Map<number, PaneSpec[]>();
  for (const spec of specs) {
    if (spec.kind === 'session') continue;
    const length = paneLength(spec);
    const group = byLength.get(length);
    if (group === undefined) byLength.set(length, [spec]);
    else group.push(spec);
  }
  return [...byLength.values()].map((group) => new PaneGroup(group, settings));
}

/**
 * ONE tumbling or sliding spec over panes of its own: the WindowOperator form of a PaneGroup (for the
 * per-minute rollups, and tests of one window).
 */
export class PaneWindows implements WindowOperator {
  readonly group: PaneGroup;

  constructor(
    readonly spec: PaneSpec,
    settings: WindowSettings,
  ) {
    this.group = new PaneGroup([spec], settings);
  }

  add(ts: number, values: Readonly<Record<string, number>>, watermark: number, text?: string): boolean {
    return this.group.add(ts, values, watermark, text);
  }

  close(watermark: number, sink: ClosedWindowSink): void {
    this.group.closeView(0, watermark, sink);
    this.group.prune();
  }

  get isEmpty(): boolean {
    return this.group.isEmpty;
  }

  snapshot(): PaneSnapshot {
    return this.group.snapshotView(0);
  }

  /** Restores every pane at once (checkpoint versions 1 and 2): the next checkpoint writes them all. */
  restore(s: PaneSnapshot): this {
    this.group.restoreViews(new Map([[this.spec.name, s]]));
    return this;
  }
}

export interface PaneChanges {
  /** The pane starts the store holds after this checkpoint. */
  readonly panes: readonly number[];
  readonly write: ReadonlyMap<number, MetricsSnapshot>;
  readonly removed: readonly number[];
}

export interface PaneSnapshot {
  readonly next: number | null;
  readonly panes: readonly (readonly [number, MetricsSnapshot])[];
}
