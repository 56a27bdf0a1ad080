import { snapshotAccumulator, type AggregateName } from './aggregate.js';
import { Deduplicator, type DedupeSnapshot } from './dedupe.js';
import type { OutputBuffer } from './outputs.js';
import type { Reading } from './reading.js';
import { SensorRules, type RuleState } from './rules/evaluate.js';
import type { Rule } from './rules/types.js';
import type { Tick } from './stream-clock.js';
import {
  PaneWindows,
  SessionWindows,
  createWindowOperator,
  windowResults,
  type PaneSnapshot,
  type SessionSnapshot,
  type WindowSettings,
  type WindowSpec,
} from './windows.js';

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
  /** Events a paused sensor holds; the next one resumes it (see SensorProcessor.pause). */
  readonly maxHeldEvents: number;
}

export type SensorEvent = Reading | Tick;

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
  private readonly windows: (PaneWindows | SessionWindows)[];
  private readonly rollup: PaneWindows | undefined;
  readonly rules: SensorRules;

  constructor(
    readonly sensorId: string,
    private readonly pipeline: SensorPipeline,
  ) {
    this.dedupe = new Deduplicator(pipeline.dedupeHorizonMs);
    this.windows = pipeline.windows.map((spec) => createWindowOperator(spec, pipeline.window));
    this.rollup = pipeline.rollups
      ? new PaneWindows(ROLLUP_SPEC as Extract<WindowSpec, { kind: 'tumbling' }>, {
          ...pipeline.window,
          aggregates: ROLLUP_AGGREGATES,
          withSketch: true,
          exemplars: undefined,
        })
      : undefined;
    this.rules = new SensorRules(sensorId, () => this.pipeline.rules);
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
    const wm = this.watermark;
    let taken = this.windows.length === 0;
    for (const w of this.windows) if (w.add(r.ts, r.values, wm, r.text)) taken = true;
    if (!taken) {
      out.late.push({ reading: r, watermark: wm, reason: lateReason(r, wm, this.pipeline) });
      return;
    }
    this.rollup?.add(r.ts, r.values, wm);
    this.rules.onActivity(r.ts, out.alerts);
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
      this.rules.onSilence(t.streamTime, t.lastSeen, this.maxTs, out.alerts);
    }
  }

  private close(out: OutputBuffer): void {
    const wm = this.watermark;
    for (const w of this.windows) {
      w.close(wm, (start, end, metrics) => {
        const from = out.windowResults.length;
        windowResults(metrics, w.spec, this.sensorId, start, end, this.pipeline.window, out.windowResults);
        this.rules.onWindowClosed(w.spec.name, start, end, out.windowResults.slice(from), out.alerts);
      });
    }
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
      windows: this.windows.map((w) => [w.spec.name, w.snapshot()]),
      rollup: this.rollup?.snapshot() ?? null,
      rules: this.rules.snapshot(),
      ...(this.held === undefined ? {} : { held: this.held }),
    };
  }

  static restore(sensorId: string, pipeline: SensorPipeline, s: SensorSnapshot): SensorProcessor {
    const p = new SensorProcessor(sensorId, pipeline);
    p.maxTs = s.maxTs ?? Number.NEGATIVE_INFINITY;
    p.idleWatermark = s.idleWm ?? Number.NEGATIVE_INFINITY;
    p.dedupe.restore(s.dedupe);
    const byName = new Map(s.windows);
    for (const w of p.windows) {
      const snap = byName.get(w.spec.name);
      if (snap === undefined) continue; // a window spec added since the checkpoint starts empty
      if (w instanceof SessionWindows) w.restore(snap as SessionSnapshot);
      else w.restore(snap as PaneSnapshot);
    }
    if (p.rollup !== undefined && s.rollup !== null) p.rollup.restore(s.rollup);
    p.rules.restore(s.rules);
    if (s.held !== undefined) p.held = [...s.held];
    return p;
  }
}

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

function lateReason(r: Reading, wm: number, p: SensorPipeline): string {
  const lateness = p.window.allowedLatenessMs;
  return `event time ${r.ts} is too late: watermark ${wm} (allowed lateness ${lateness} ms) has closed every window it belongs to`;
}
