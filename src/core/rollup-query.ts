import { finish, merge, newAccumulator, restoreAccumulator, type AggregateName } from './aggregate.js';
import type { RollupRecord } from './outputs.js';

export const MINUTE_MS = 60_000;

/** The minutes a query [from, to) covers: every minute that starts at or after from's minute and before to. */
export function minuteRange(from: number, to: number): { fromMinute: number; to: number } {
  return { fromMinute: Math.floor(from / MINUTE_MS) * MINUTE_MS, to };
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
