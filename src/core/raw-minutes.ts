import type { Reading } from './reading.js';

export const MINUTE_MS = 60_000;

/**
 * The readings of one metric of one sensor in one minute, as the store keeps them for a bounded time
 * beside the minute's rollup (config `rollups.rawTtl`): they make a query exact when its ends fall
 * inside a minute, and they count the minute still open, which has no rollup yet.
 *
 * Encoding, version 1 (the store's key names the version): 10 bytes per reading, appended in
 * processing order, so one checkpoint's readings are one APPEND and nothing is read back to write:
 *   uint16 LE  milliseconds into the minute (0 to 59,999)
 *   float64 LE the value
 */
export interface RawMinute {
  readonly sensorId: string;
  readonly metric: string;
  readonly minute: number;
  readonly bytes: Buffer;
}

const ENTRY_BYTES = 10;

/**
 * Groups readings by sensor, metric and minute and packs each group. `metrics` limits the metrics kept
 * (the pipeline's own filter; undefined: all).
 */
export function packRawMinutes(
  readings: readonly Reading[],
  metrics: ReadonlySet<string> | undefined,
): RawMinute[] {
  // sensor -> metric -> minute -> readings' (offset, value), two numbers per reading
  const groups = new Map<string, Map<string, Map<number, number[]>>>();
  for (const r of readings) {
    const minute = Math.floor(r.ts / MINUTE_MS) * MINUTE_MS;
    let byMetric = groups.get(r.sensorId);
    if (byMetric === undefined) {
      byMetric = new Map();
      groups.set(r.sensorId, byMetric);
    }
    for (const metric in r.values) {
      if (metrics !== undefined && !metrics.has(metric)) continue;
      let byMinute = byMetric.get(metric);
      if (byMinute === undefined) {
        byMinute = new Map();
        byMetric.set(metric, byMinute);
      }
      let entries = byMinute.get(minute);
      if (entries === undefined) {
        entries = [];
        byMinute.set(minute, entries);
      }
      entries.push(r.ts - minute, r.values[metric] as number);
    }
  }
  const out: RawMinute[] = [];
  for (const [sensorId, byMetric] of groups)
    for (const [metric, byMinute] of byMetric)
      for (const [minute, entries] of byMinute) {
        const bytes = Buffer.allocUnsafe((entries.length / 2) * ENTRY_BYTES);
        for (let i = 0, at = 0; i < entries.length; i += 2, at += ENTRY_BYTES) {
          bytes.writeUInt16LE(entries[i] as number, at);
          bytes.writeDoubleLE(entries[i + 1] as number, at + 2);
        }
        out.push({ sensorId, metric, minute, bytes });
      }
  return out;
}

/**
 * Calls `each(ts, value)` for the readings of a packed minute with ts in [from, to). A trailing part
 * shorter than an entry (which the store never writes) is ignored.
 */
export function forEachRaw(
  minute: number,
  bytes: Uint8Array,
  from: number,
  to: number,
  each: (ts: number, value: number) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + ENTRY_BYTES <= bytes.byteLength; at += ENTRY_BYTES) {
    const ts = minute + view.getUint16(at, true);
    if (ts >= from && ts < to) each(ts, view.getFloat64(at + 2, true));
  }
}
