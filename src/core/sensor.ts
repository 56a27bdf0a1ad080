import { judgedBy, type SensorLabels } from './rules/scope.js';
import { VigilError } from './errors.js';
import { snapshotAccumulator, type AggregateName } from './aggregate.js';
import { Deduplicator, type DedupeIndex, type DedupeSnapshot } from './dedupe.js';
import { MetricNames } from './metric-names.js';
import type { OutputBuffer } from './outputs.js';
import type { Reading } from './reading.js';
import type { RuleState } from './rules/evaluate.js';
import { SensorRules } from './rules/sensor-rules.js';
import type { Rule } from './rules/types.js';
import type { Tick } from './stream-clock.js';
import {
  PaneWindows,
  paneGroups,
  windowResults,
  type PaneGroup,
  type ClosedWindowSink,
  type MetricsSnapshot,
  type PaneChanges,
  type PaneSnapshot,
  type WindowSettings,
  type WindowSpec,
} from './windows.js';
import { SessionWindows, type SessionSnapshot } from './session-windows.js';

/** What every sensor of a pipeline shares: windows, rules and event-time settings. */
export interface SensorPipeline {
  readonly windows: readonly WindowSpec[];
  readonly window: WindowSettings;
  readonly rules: readonly Rule[];
  /** Readings may arrive this much out of order without holding windows back. */
  readonly outOfOrdernessMs: number;
  /** Repeated readings within this much event time are dropped (0: no deduplication). */
  readonly dedupeHorizonMs: number;
  /** Stream time after a sensor's last reading at which its open windows close anyway. */
  readonly idleTimeoutMs: number | undefined;
  /** Per-minute rollups (all aggregates, for the metrics query) are kept when true. */
  readonly rollups: boolean;
  /** Readings taken into the rollups are also kept raw (out.raw), for exact queries. */
  readonly rawReadings: boolean;
  /** Events a paused sensor holds; the next one resumes it (see SensorProcessor.pause). */
  readonly maxHeldEvents: number;
  /** Distinct metric names one sensor holds state for (limits.maxMetricsPerSensor; default 1,000). */
  readonly maxMetricsPerSensor?: number;
  /** A sensor's labels (readings.sensorLabels), for rules that select sensors by them. */
  readonly sensorLabels?: (sensorId: string) => SensorLabels;
}

export type SensorEvent = Reading | Tick;

/** Operator commands to one sensor (resume produces the outputs of the events held while paused). */
export type SensorCommand = 'pause' | 'resume';

const ROLLUP_SPEC: WindowSpec = { kind: 'tumbling', name: 'rollup-1m', sizeMs: 60_000 };
const ROLLUP_AGGREGATES: readonly AggregateName[] = ['count'];

/**
 * All processing state of one sensor, free of I/O: the sensor actor is a thin shell around this.
 *
 * Per reading: dedupe -> windows (late if no window still takes it) -> rules -> watermark -> close.
 * Watermark = max(highest event time − out-of-orderness, the idle watermark set by an idle tick).
 */
export class SensorProcessor {
  private maxTs = Number.NEGATIVE_INFINITY;
  private idleWatermark = Number.NEGATIVE_INFINITY;
  private readonly dedupe: Deduplicator;
  /** Tumbling and sliding windows, one pane group per pane length (windows.ts: PaneGroup). */
  private readonly groups: PaneGroup[];
  private readonly sessions: SessionWindows[];
  /** Every window spec in config order, where it lives: windows close in this order. */
  private readonly windows: readonly WindowSlot[];
  private readonly rollup: PaneWindows | undefined;
  private readonly names: MetricNames;
  readonly rules: SensorRules;

  constructor(
    readonly sensorId: string,
    private readonly pipeline: SensorPipeline,
  ) {
    this.dedupe = new Deduplicator(pipeline.dedupeHorizonMs);
    this.groups = paneGroups(pipeline.windows, pipeline.window);
    this.sessions = [];
    this.windows = pipeline.windows.map((spec): WindowSlot => {
      if (spec.kind === 'session') {
        const op = new SessionWindows(spec, pipeline.window);
        this.sessions.push(op);
        return { spec, session: op };
      }
      for (const group of this.groups) {
        const view = group.specs.indexOf(spec);
        if (view >= 0) return { spec, group, view };
      }
      throw new VigilError(`window ${spec.name} has no pane group`); // paneGroups() takes every pane spec
    });
    this.rollup = pipeline.rollups
      ? new PaneWindows(ROLLUP_SPEC as Extract<WindowSpec, { kind: 'tumbling' }>, {
          ...pipeline.window,
          aggregates: ROLLUP_AGGREGATES,
          withSketch: true,
          exemplars: undefined,
        })
      : undefined;
    this.rules = new SensorRules(
      sensorId,
      judgedBy(sensorId, () => this.pipeline.rules, pipeline.sensorLabels),
    );
    this.names = new MetricNames(pipeline.maxMetricsPerSensor ?? 1_000, pipeline.window.metrics, (into) => {
      for (const g of this.groups) g.collectMetrics(into);
      for (const w of this.sessions) w.collectMetrics(into);
      this.rollup?.group.collectMetrics(into);
    });
  }

  get watermark(): number {
    return Math.max(this.maxTs - this.pipeline.outOfOrdernessMs, this.idleWatermark);
  }

  process(event: SensorEvent, out: OutputBuffer): void {
    if (this.held !== undefined) {
      if (this.held.length < this.pipeline.maxHeldEvents) {
        this.held.push(event);
        return;
      }
      // The hold is full. Memory must stay bounded and nothing may be dropped: resume by itself.
      this.resume(out);
      out.resumed.push(this.sensorId);
    }
    if ('tick' in event) this.onTick(event, out);
    else this.onReading(event, out);
  }

  /**
   * Paused (an operator's command): events are held, in order, in this sensor's own state, so they
   * are checkpointed with it and nothing is lost; `resume` processes them as if they had just come.
   * At most `maxHeldEvents` are held: the event after that resumes the sensor (out.resumed says so).
   */
  pause(): void {
    this.held ??= [];
  }

  resume(out: OutputBuffer): void {
    const held = this.held;
    this.held = undefined;
    for (const e of held ?? []) this.process(e, out);
  }

  get paused(): boolean {
    return this.held !== undefined;
  }

  get heldEvents(): number {
    return this.held?.length ?? 0;
  }

  /** Events held while paused (undefined: not paused). */
  private held: SensorEvent[] | undefined;

  private onReading(r: Reading, out: OutputBuffer): void {
    if (this.dedupe.isDuplicate(r)) {
      out.duplicates.push(r);
      return;
    }
    // Any reading that is not a repeat ends a silence, a late one too: the sensor is sending (a
    // gateway flushing what it buffered through an outage sends readings its windows have closed on).
    this.rules.onActivity(r.ts, out.alerts);
    let over = this.names.admit(r.values);
    if (over !== undefined && r.ts > this.maxTs) {
      // Time has passed for the sensor even if this reading cannot be taken: windows it makes final
      // close first (they would right after it anyway), which may free names for it.
      this.maxTs = r.ts;
      this.close(out);
      over = this.names.admit(r.values);
    }
    if (over !== undefined) {
      out.refused.push({ reading: r, reason: namesReason(this.sensorId, over, this.pipeline) });
      return;
    }
    const wm = this.watermark;
    let taken = this.windows.length === 0;
    for (const g of this.groups) if (g.add(r.ts, r.values, wm, r.text)) taken = true;
    for (const w of this.sessions) if (w.add(r.ts, r.values, wm, r.text)) taken = true;
    if (!taken) {
      out.late.push({ reading: r, watermark: wm, reason: lateReason(r, wm, this.pipeline) });
      return;
    }
    if (this.rollup?.add(r.ts, r.values, wm) === true && this.pipeline.rawReadings) out.raw.push(r);
    this.rules.onReading(r, out.alerts);
    if (r.ts > this.maxTs) {
      this.maxTs = r.ts;
      this.close(out);
    }
  }

  private onTick(t: Tick, out: OutputBuffer): void {
    if (t.tick === 'idle') {
      const wm = t.streamTime - this.pipeline.outOfOrdernessMs;
      if (wm > this.idleWatermark) {
        this.idleWatermark = wm;
        this.close(out);
      }
    } else {
      const lastTs = Number.isFinite(this.maxTs) ? this.maxTs : undefined; // never reported: expected only
      this.rules.onSilence(t.streamTime, t.lastSeen, lastTs, out.alerts);
    }
  }

  private close(out: OutputBuffer): void {
    const wm = this.watermark;
    for (const w of this.windows) {
      const sink: ClosedWindowSink = (start, end, metrics) => {
        const from = out.windowResults.length;
        windowResults(metrics, w.spec, this.sensorId, start, end, this.pipeline.window, out.windowResults);
        this.rules.onWindowClosed(w.spec.name, start, end, out.windowResults.slice(from), out.alerts);
      };
      if ('session' in w) w.session.close(wm, sink);
      else w.group.closeView(w.view, wm, sink);
    }
    for (const g of this.groups) g.prune();
    this.rollup?.close(wm, (minute, _end, metrics) => {
      for (const [metric, acc] of metrics) {
        out.rollups.push({ sensorId: this.sensorId, metric, minute, acc: snapshotAccumulator(acc) });
      }
    });
  }

  snapshot(): SensorSnapshot {
    return {
      v: 2,
      maxTs: Number.isFinite(this.maxTs) ? this.maxTs : null,
      idleWm: Number.isFinite(this.idleWatermark) ? this.idleWatermark : null,
      dedupe: this.dedupe.snapshot(),
      windows: this.windows.map((w) => [
        w.spec.name,
        'session' in w ? w.session.snapshot() : w.group.snapshotView(w.view),
      ]),
      rollup: this.rollup?.snapshot() ?? null,
      rules: this.rules.snapshot(),
      ...(this.held === undefined ? {} : { held: this.held }),
    };
  }

  /**
   * The sensor's state for a checkpoint, version 4: a main record (watermarks, rules, the indexes of
   * the dedupe segments and window panes, session windows) that is always written, and the parts
   * (dedupe segments, panes) that changed since the last call, or are gone (null). Writing only what
   * changed makes a checkpoint cost what the sensor did since the last one, not all it remembers.
   */
  checkpoint(): SensorCheckpoint {
    const parts = new Map<string, SensorPart | null>();
    for (const name of this.orphans) parts.set(name, null);
    this.orphans = [];
    const dedupe = this.dedupe.changes();
    for (const [seg, entries] of dedupe.write) parts.set(dedupePart(seg), { kind: 'dedupe', entries });
    for (const seg of dedupe.removed) parts.set(dedupePart(seg), null);
    const appends = new Map<string, readonly number[]>();
    for (const [seg, entries] of dedupe.append) appends.set(dedupePart(seg), entries);
    const panes = (prefix: string, c: PaneChanges): readonly number[] => {
      for (const [start, metrics] of c.write) parts.set(prefix + String(start), { kind: 'pane', metrics });
      for (const start of c.removed) parts.set(prefix + String(start), null);
      return c.panes;
    };
    const rollup = this.rollup?.group;
    const main: SensorMain = {
      v: 4,
      maxTs: Number.isFinite(this.maxTs) ? this.maxTs : null,
      idleWm: Number.isFinite(this.idleWatermark) ? this.idleWatermark : null,
      dedupe: dedupe.index,
      windows: [
        ...this.groups.flatMap((g) => g.viewEnds().map(([name, next]) => [name, { next }] as const)),
        ...this.sessions.map((w) => [w.spec.name, w.snapshot()] as const),
      ],
      panes: this.groups.map((g) => [g.paneMs, panes(panePartPrefix(g.paneMs), g.changes())]),
      rollup:
        rollup === undefined
          ? null
          : { next: rollup.viewEnds()[0]?.[1] ?? null, panes: panes(ROLLUP_PART_PREFIX, rollup.changes()) },
      rules: this.rules.snapshot(),
      ...(this.held === undefined ? {} : { held: this.held }),
    };
    return { main, parts, appends };
  }

  /** Parts the store holds that this sensor no longer uses (a window removed from the config). */
  private orphans: string[] = [];

  /**
   * Restores a version 3 or 4 checkpoint: its main record and every part it lists. `inStore` false: the
   * parts are not in the store (an upgraded older checkpoint), so the next checkpoint writes them all.
   */
  static fromCheckpoint(
    sensorId: string,
    pipeline: SensorPipeline,
    main: SensorMain,
    parts: ReadonlyMap<string, SensorPart>,
    inStore = true,
  ): SensorProcessor {
    const p = new SensorProcessor(sensorId, pipeline);
    const used = new Set<string>();
    const part = <K extends SensorPart['kind']>(name: string, kind: K): Extract<SensorPart, { kind: K }> => {
      const found = parts.get(name);
      if (found?.kind !== kind) throw new RangeError(`checkpoint part ${name} is missing`);
      used.add(name);
      return found as Extract<SensorPart, { kind: K }>;
    };
    const paneParts = (prefix: string, starts: readonly number[]): Map<number, MetricsSnapshot> =>
      new Map(starts.map((start) => [start, part(prefix + String(start), 'pane').metrics]));
    p.maxTs = main.maxTs ?? Number.NEGATIVE_INFINITY;
    p.idleWatermark = main.idleWm ?? Number.NEGATIVE_INFINITY;
    p.dedupe.restoreSegments(
      main.dedupe,
      new Map(main.dedupe.segs.map((seg) => [seg, part(dedupePart(seg), 'dedupe').entries])),
    );
    const ends = new Map<string, number | null>();
    const sessions = new Map<string, SessionSnapshot>();
    for (const [name, w] of main.windows) {
      if ('sessions' in w) sessions.set(name, w);
      else ends.set(name, w.next);
    }
    // A window spec added since the checkpoint starts anew: from the panes its group holds, if its
    // pane length is one the checkpoint had (else empty).
    const groupPanes = new Map(main.panes);
    for (const g of p.groups) {
      const starts = groupPanes.get(g.paneMs) ?? [];
      g.restoreIndexed(ends, starts, paneParts(panePartPrefix(g.paneMs), starts), inStore);
    }
    for (const w of p.sessions) {
      const snap = sessions.get(w.spec.name);
      if (snap !== undefined) w.restore(snap);
    }
    const rollup = p.rollup?.group;
    if (rollup !== undefined && main.rollup !== null)
      rollup.restoreIndexed(
        new Map([[ROLLUP_SPEC.name, main.rollup.next]]),
        main.rollup.panes,
        paneParts(ROLLUP_PART_PREFIX, main.rollup.panes),
        inStore,
      );
    p.rules.restore(main.rules);
    if (main.held !== undefined) p.held = [...main.held];
    p.orphans = [...parts.keys()].filter((name) => !used.has(name));
    p.names.restore();
    return p;
  }
}

/** Names of checkpoint parts (never parsed: a main record lists its parts by what they hold). */
const dedupePart = (segment: number): string => `d:${segment}`;
const panePartPrefix = (paneMs: number): string => `p:${paneMs}:`;
const ROLLUP_PART_PREFIX = 'r:';

/** Where a window spec lives: a view of a pane group, or session windows of its own. */
type WindowSlot =
  | { readonly spec: WindowSpec; readonly group: PaneGroup; readonly view: number }
  | { readonly spec: WindowSpec; readonly session: SessionWindows };

/**
 * The always-written record of a version 3 or 4 checkpoint (see SensorProcessor.checkpoint). 4 differs
 * in the dedupe index only: its entries are (ts, values hash, seq code), version 3's were key/ts pairs
 * (upgraded on reading, core/checkpoint-legacy.ts).
 */
export interface SensorMain {
  readonly v: 3 | 4;
  readonly maxTs: number | null;
  readonly idleWm: number | null;
  readonly dedupe: DedupeIndex;
  /** Tumbling and sliding windows: the end of the next window each emits; session windows: whole. */
  readonly windows: readonly (readonly [string, { readonly next: number | null } | SessionSnapshot])[];
  /** Pane length -> the starts of the panes stored (parts `p:<length>:<start>`), one per pane group. */
  readonly panes: readonly (readonly [number, readonly number[]])[];
  /** The per-minute rollup window: its next end and its panes (parts `r:<start>`). */
  readonly rollup: { readonly next: number | null; readonly panes: readonly number[] } | null;
  readonly rules: readonly (readonly [string, RuleState])[];
  readonly held?: readonly SensorEvent[];
}

/** A part of a checkpoint: a dedupe segment (ts, values hash, seq code triples) or a window pane. */
export type SensorPart =
  | { readonly kind: 'dedupe'; readonly entries: readonly number[] }
  | { readonly kind: 'pane'; readonly metrics: MetricsSnapshot };

export interface SensorCheckpoint {
  readonly main: SensorMain;
  /** Part name -> the part, or null: the store's copy is to be removed. */
  readonly parts: ReadonlyMap<string, SensorPart | null>;
  /** Dedupe entries to append to stored segments (a name is never in both maps). */
  readonly appends: ReadonlyMap<string, readonly number[]>;
}

/**
 * The whole state in one record: checkpoint versions 1 and 2 (still restored), and the form
 * InspectActor shows.
 */
export interface SensorSnapshot {
  /** 2; checkpoints of version 1 (JSON dedupe pairs) are still restored. */
  readonly v: 1 | 2;
  readonly maxTs: number | null;
  readonly idleWm: number | null;
  readonly dedupe: DedupeSnapshot;
  readonly windows: readonly (readonly [string, PaneSnapshot | SessionSnapshot])[];
  readonly rollup: PaneSnapshot | null;
  readonly rules: readonly (readonly [string, RuleState])[];
  /** Present only while paused: the events held since, in order. */
  readonly held?: readonly SensorEvent[];
}

function namesReason(sensorId: string, name: string, p: SensorPipeline): string {
  const max = p.maxMetricsPerSensor ?? 1_000;
  return `values.${name}: a new metric of ${sensorId}, which holds ${max} already: over limits.maxMetricsPerSensor (${max})`;
}

function lateReason(r: Reading, wm: number, p: SensorPipeline): string {
  const lateness = p.window.allowedLatenessMs;
  return `event time ${r.ts} is too late: watermark ${wm} (allowed lateness ${lateness} ms) has closed every window it belongs to`;
}
