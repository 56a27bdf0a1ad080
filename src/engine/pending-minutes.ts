import type { OutputBuffer, RollupRecord } from '../core/outputs.js';
import { packRawMinutes, type RawMinute } from '../core/raw-minutes.js';
import type { Reading } from '../core/reading.js';

/**
 * What a partition's next checkpoint writes besides its sensors: the minutes closed and the readings
 * taken into the rollups since the last one (packed only when the checkpoint is written, so a reading
 * costs one array slot until then).
 */
export class PendingMinutes {
  private rollups: RollupRecord[] = [];
  private raw: Reading[] = [];

  /** Takes a step's closed minutes and raw readings. */
  take(out: OutputBuffer): void {
    for (const r of out.rollups) this.rollups.push(r);
    for (const r of out.raw) this.raw.push(r);
  }

  get empty(): boolean {
    return this.rollups.length === 0 && this.raw.length === 0;
  }

  /** Forgets everything (the partition restarts from its checkpoint, which replays it). */
  clear(): void {
    this.rollups = [];
    this.raw = [];
  }

  /** Everything pending, for one checkpoint (`metrics`: the pipeline's filter), and starts afresh. */
  drain(metrics: ReadonlySet<string> | undefined): { rollups: RollupRecord[]; raw: RawMinute[] } {
    const out = { rollups: this.rollups, raw: packRawMinutes(this.raw, metrics) };
    this.clear();
    return out;
  }
}
