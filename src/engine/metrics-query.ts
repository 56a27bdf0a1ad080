import { newAccumulator, type Accumulator } from '../core/aggregate.js';
import type { RollupRecord } from '../core/outputs.js';
import {
  addSeries,
  intervalNotes,
  MINUTE_MS,
  minutesOf,
  rawMinutesToRead,
  type QuerySettings,
} from '../core/rollup-query.js';
import type { StateStore } from '../ports/state-store.js';

export type SeriesSource = Pick<StateStore, 'rawMinutesKept' | 'rollups' | 'rawMinutes'>;

export interface SeriesQuery {
  readonly from: number;
  readonly to: number;
  readonly now: number;
  readonly settings: QuerySettings;
}

/**
 * The readings of several series over [from, to) taken together, exact to the millisecond (see
 * core/rollup-query.ts): the minutes with raw readings kept, then per series its rollups and the
 * raw minutes it needs, a few series at a time.
 * Returns the accumulator and the notes (each said once) of where the answer could not be exact.
 */
export async function querySeries(
  store: SeriesSource,
  series: readonly { readonly sensorId: string; readonly metric: string }[],
  q: SeriesQuery,
): Promise<{ acc: Accumulator; notes: string[] }> {
  const acc = newAccumulator(true);
  const notes = new Set(intervalNotes(q.from, q.to, q.now, q.settings));
  // The minutes with raw readings FIRST, then each series' rollups: see core/rollup-query.ts.
  const { first, end } = minutesOf(q.from, q.to);
  const kept = q.settings.rawTtlMs > 0 ? await store.rawMinutesKept(first, end) : [];
  let next = 0;
  // A few series at a time, each merged as it is read: memory stays bounded by a few series' day,
  // however many series and days a request spans (tooLarge bounds the time).
  const worker = async (): Promise<void> => {
    for (let i = next++; i < series.length; i = next++) {
      const s = series[i];
      if (s !== undefined) for (const n of await addOneSeries(store, s, q, kept, acc)) notes.add(n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, series.length) }, worker));
  return { acc, notes: [...notes] };
}

/** Series read at once. */
const CONCURRENCY = 8;
/** Minutes of rollups read at once. */
const CHUNK_MINUTES = 1_440;

/**
 * One series into `acc`: its rollups a day at a time, then the raw readings of the minutes an end
 * falls inside and of the minutes kept (`kept`, read before the rollups) that have no rollup: open.
 */
async function addOneSeries(
  store: SeriesSource,
  { sensorId, metric }: { readonly sensorId: string; readonly metric: string },
  q: SeriesQuery,
  kept: readonly number[],
  acc: Accumulator,
): Promise<string[]> {
  const { first, end } = minutesOf(q.from, q.to);
  const notes: string[] = [];
  const closed = new Set<number>();
  const partial: RollupRecord[] = [];
  for (let from = first; from < end; from += CHUNK_MINUTES * MINUTE_MS) {
    const rollups = await store.rollups(
      sensorId,
      metric,
      from,
      Math.min(end, from + CHUNK_MINUTES * MINUTE_MS),
    );
    const whole: RollupRecord[] = [];
    for (const r of rollups) {
      closed.add(r.minute);
      // The minutes an end falls inside are merged with their raw readings, below.
      (r.minute < q.from || r.minute + MINUTE_MS > q.to ? partial : whole).push(r);
    }
    for (const n of addSeries(acc, q.from, q.to, whole, new Map())) notes.push(n);
  }
  // A minute kept with a rollup is closed (whenever it closed, its rollup counts it whole).
  const open = kept.filter((m) => !closed.has(m));
  const wanted = rawMinutesToRead(q.from, q.to, q.settings, open);
  const raw =
    wanted.length === 0 ? new Map<number, Buffer>() : await store.rawMinutes(sensorId, metric, wanted);
  for (const n of addSeries(acc, q.from, q.to, partial, raw)) notes.push(n);
  return notes;
}
