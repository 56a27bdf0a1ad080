import type { Reading } from './reading.js';
import type { OutputBuffer } from './outputs.js';
import { evaluateThreshold, newRuleState, type Rule, type RuleState } from './rules.js';
import { TumblingWindows, type TumblingWindowSpec } from './window.js';

/** What every sensor of a pipeline shares: the window specs, the rules and the event-time settings. */
export interface SensorPipeline {
  readonly windows: readonly TumblingWindowSpec[];
  readonly rules: readonly Rule[];
  /** Readings may arrive this much out of order without being late. */
  readonly outOfOrdernessMs: number;
  /** Only these metrics are aggregated; undefined means every metric in a reading. */
  readonly metrics: ReadonlySet<string> | undefined;
}

/**
 * All processing state of one sensor, free of I/O: the sensor actor is a thin shell around this.
 * Per-key watermark = highest event time seen minus the allowed out-of-orderness.
 */
export class SensorProcessor {
  private maxTs = Number.NEGATIVE_INFINITY;
  private readonly windows: TumblingWindows[];
  private readonly ruleStates = new Map<string, RuleState>();

  constructor(
    readonly sensorId: string,
    private readonly pipeline: SensorPipeline,
  ) {
    this.windows = pipeline.windows.map((spec) => new TumblingWindows(spec));
  }

  get watermark(): number {
    return this.maxTs - this.pipeline.outOfOrdernessMs;
  }

  process(reading: Reading, out: OutputBuffer): void {
    const watermark = this.watermark;
    // A reading is late when the window it belongs to was already emitted; it changes nothing then.
    const first = this.windows[0];
    if (first !== undefined && first.isLate(reading.ts, watermark)) {
      out.late.push({
        reading,
        watermark,
        reason: `event time ${reading.ts} is behind the watermark ${watermark}: its ${first.spec.name} window [${first.windowStart(reading.ts)}, ${first.windowStart(reading.ts) + first.spec.sizeMs}) is already closed`,
      });
      return;
    }
    for (const rule of this.pipeline.rules) {
      const value = reading.values[rule.metric];
      if (value === undefined) continue;
      let state = this.ruleStates.get(rule.id);
      if (state === undefined) {
        state = newRuleState();
        this.ruleStates.set(rule.id, state);
      }
      const alert = evaluateThreshold(rule, state, this.sensorId, reading.ts, value);
      if (alert !== undefined) out.alerts.push(alert);
    }
    for (const w of this.windows) w.add(reading.ts, reading.values, this.pipeline.metrics);
    if (reading.ts > this.maxTs) {
      this.maxTs = reading.ts;
      const wm = this.watermark;
      for (const w of this.windows) w.closeUpTo(wm, this.sensorId, out.windowResults);
    }
  }
}
