import { finish, merge, newAccumulator, restoreAccumulator, type AggregateName } from './aggregate.js';
import type { RollupRecord } from './outputs.js';

export const MINUTE_MS = 60_000;

/**
 * What a query over [from, to) is answered over: whole minutes, [from's minute, the end of the minute
 * `to` falls in), and a sentence for each way that differs from what was asked (an end inside a
 * minute; minutes not closed at `now`, whose readings the rollups do not hold yet).
 */
export function coveredInterval(
  from: number,
  to: number,
  now: number,
): { readonly from: number; readonly to: number; readonly notes: string[] } {
  const start = Math.floor(from / MINUTE_MS) * MINUTE_MS;
  const end = Math.ceil(to / MINUTE_MS) * MINUTE_MS;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const notes: string[] = [];
  if (start !== from)
    notes.push(
      `from ${iso(from)} is inside a minute: answered from ${iso(start)} (the rollups hold whole minutes)`,
    );
  if (end !== to)
    notes.push(
      `to ${iso(to)} is inside a minute: answered up to ${iso(end)} (the rollups hold whole minutes)`,
    );
  const open = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  if (end > open)
    notes.push(`the minutes from ${iso(open)} on are not closed yet: their readings are not counted`);
  return { from: start, to: end, notes };
}

/**
 * A result as a person expects to read it: a double carries 15 to 17 significant digits, and a mean of
 * readings with one decimal ends as 55.099999999999994; 15 significant digits give 55.1 back, and
 * lose nothing the readings held. Not finite (no data): null.
 */
export function tidy(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(15));
}

/**
 * Merges the closed minutes of one series into the requested aggregates. Exact to the minute: a query
 * covers whole minutes (from is rounded down to its minute), and every minute's accumulator holds
 * every reading of that minute exactly once. `rate` is readings per second over the minutes covered.
 */
export function aggregateRollups(
  records: readonly RollupRecord[],
  aggregates: readonly AggregateName[],
  durationMs: number,
): Partial<Record<AggregateName, number>> {
  const acc = newAccumulator(false);
  for (const r of [...records].sort((a, b) => a.minute - b.minute)) merge(acc, restoreAccumulator(r.acc));
  return finish(acc, aggregates, durationMs);
}
