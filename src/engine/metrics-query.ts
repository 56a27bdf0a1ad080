import { newAccumulator, type Accumulator } from '../core/aggregate.js';
import {
  addSeries,
  intervalNotes,
  minutesOf,
  rawMinutesToRead,
  type QueryHorizon,
} from '../core/rollup-query.js';
import type { StateStore } from '../ports/state-store.js';

export type SeriesSource = Pick<StateStore, 'openMinutes' | 'rollups' | 'rawMinutes'>;

export interface SeriesQuery {
  readonly from: number;
  readonly to: number;
  readonly now: number;
  readonly horizon: QueryHorizon;
}

/**
 * The readings of several series over [from, to) taken together, exact to the millisecond (see
 * core/rollup-query.ts): per series, its open minutes, its rollups, then the raw minutes it needs;
 * the series in parallel.
 * Returns the accumulator and the notes (each said once) of where the answer could not be exact.
 */
export async function querySeries(
  store: SeriesSource,
  series: readonly { readonly sensorId: string; readonly metric: string }[],
  q: SeriesQuery,
): Promise<{ acc: Accumulator; notes: string[] }> {
  const { first, end } = minutesOf(q.from, q.to);
  const parts = await Promise.all(
    series.map(async ({ sensorId, metric }) => {
      // The open minutes first, then the rollups: see core/rollup-query.ts.
      const open = q.horizon.rawTtlMs > 0 ? await store.openMinutes(sensorId, metric, first, end) : [];
      const rollups = await store.rollups(sensorId, metric, first, end);
      const wanted = rawMinutesToRead(q.from, q.to, q.horizon, open);
      const raw =
        wanted.length === 0 ? new Map<number, Buffer>() : await store.rawMinutes(sensorId, metric, wanted);
      return { rollups, raw };
    }),
  );
  const acc = newAccumulator(true);
  const notes = new Set(intervalNotes(q.from, q.to, q.now, q.horizon));
  for (const p of parts) for (const n of addSeries(acc, q.from, q.to, p.rollups, p.raw)) notes.add(n);
  return { acc, notes: [...notes] };
}
