import { accumulate, merge, restoreAccumulator, type Accumulator } from './aggregate.js';
import type { RollupRecord } from './outputs.js';
import { forEachRaw, MINUTE_MS } from './raw-minutes.js';

export { MINUTE_MS };

/**
 * A query over [from, to) to the millisecond, free of I/O. Each minute of the interval is answered
 * from one source, never two, so nothing counts twice:
 *
 *   a whole minute inside the interval   its rollup (the minute closed), else its raw readings (the
 *                                         minute is still open, or closed since the rollups were read)
 *   a minute an end falls inside          its raw readings cut to the interval, else its rollup whole,
 *                                         with a note (raw readings are kept for `rollups.rawTtl` only)
 *
 * The store keeps an index of the minutes with raw readings (those written within rawTtl); a minute
 * of it without a rollup of the series is open for that series. So a query reads raw minutes only at
 * its two ends and where minutes are open, however long it is. A reader asks for the index FIRST,
 * then the rollups: a minute that closes in between is then found among the rollups, or its raw
 * readings are still there. Raw readings and rollups are written by the same atomic checkpoints as
 * the offsets (exactly once), so an answer counts what the engine had checkpointed when it was
 * asked: readings up to about one checkpoint interval ago.
 */
export interface QuerySettings {
  /** How long the store keeps raw readings after a minute's last one (0: none are kept). */
  readonly rawTtlMs: number;
  /** The most series × minutes one query may span (limits.maxQuerySeriesMinutes). */
  readonly maxSeriesMinutes: number;
}

const floorMinute = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The minutes holding at least one instant of [from, to): [first, end). */
export function minutesOf(from: number, to: number): { readonly first: number; readonly end: number } {
  return { first: floorMinute(from), end: floorMinute(to - 1) + MINUTE_MS };
}

/**
 * Why a query over `series` series and [from, to) is too large to answer, or undefined. Each minute of
 * each series is a rollup to read and merge (about 5 µs each from Redis, measured by bench/query.ts):
 * the limit keeps one request from holding a node's CPU for long.
 */
export function tooLarge(series: number, from: number, to: number, s: QuerySettings): string | undefined {
  const { first, end } = minutesOf(from, to);
  const minutes = (end - first) / MINUTE_MS;
  const span = series * minutes;
  return span > s.maxSeriesMinutes
    ? `the request spans ${span.toLocaleString('en-US')} series-minutes (${series} series × ${minutes.toLocaleString('en-US')} minutes), more than ${s.maxSeriesMinutes.toLocaleString('en-US')} (limits.maxQuerySeriesMinutes): ask a shorter range or fewer sensors`
    : undefined;
}

/** The minutes of one series whose raw readings are read: the minutes an end falls inside, and the open ones. */
export function rawMinutesToRead(
  from: number,
  to: number,
  settings: QuerySettings,
  open: readonly number[],
): number[] {
  if (settings.rawTtlMs <= 0) return [];
  const { first, end } = minutesOf(from, to);
  const out = new Set<number>();
  if (from !== first) out.add(first);
  if (to % MINUTE_MS !== 0) out.add(end - MINUTE_MS);
  for (const m of open) if (m >= first && m < end) out.add(m);
  return [...out].sort((a, b) => a - b);
}

/**
 * Adds one series' part of [from, to) to `acc` (create it with a sketch, for quantiles), from its
 * rollups and raw minutes as the table above says. Returns a note for each minute it had to count
 * whole although an end falls inside it.
 */
export function addSeries(
  acc: Accumulator,
  from: number,
  to: number,
  rollups: readonly RollupRecord[],
  raw: ReadonlyMap<number, Uint8Array>,
): string[] {
  const notes: string[] = [];
  const byMinute = new Map(rollups.map((r) => [r.minute, r]));
  const minutes = [...new Set([...byMinute.keys(), ...raw.keys()])].sort((a, b) => a - b);
  const add = (ts: number, value: number): void => {
    accumulate(acc, value, ts);
  };
  for (const m of minutes) {
    if (m + MINUTE_MS <= from || m >= to) continue;
    const rollup = byMinute.get(m);
    const bytes = raw.get(m);
    const whole = m >= from && m + MINUTE_MS <= to;
    if (whole && rollup !== undefined) merge(acc, restoreAccumulator(rollup.acc));
    else if (bytes !== undefined) forEachRaw(m, bytes, from, to, add);
    else if (rollup !== undefined) {
      merge(acc, restoreAccumulator(rollup.acc));
      notes.push(
        `the minute from ${iso(m)} is counted whole: an end of the interval falls inside it, and its readings are no longer kept (rollups.rawTtl)`,
      );
    }
  }
  return notes;
}

/**
 * What a whole answer says besides its values: where it could not be exact. With raw readings kept,
 * nothing; without (rawTtl 0), the minutes not closed yet, which only rollups would count.
 */
export function intervalNotes(from: number, to: number, now: number, settings: QuerySettings): string[] {
  if (settings.rawTtlMs > 0) return [];
  const open = floorMinute(now);
  return to > open
    ? [
        `the minutes from ${iso(Math.max(open, floorMinute(from)))} on are not closed yet: their readings are not counted (rollups.rawTtl is 0)`,
      ]
    : [];
}

/**
 * A result as a person expects to read it: a double carries 15 to 17 significant digits, and a mean of
 * readings with one decimal ends as 55.099999999999994; 15 significant digits give 55.1 back, and
 * lose nothing the readings held. Not finite (no data): null.
 */
export function tidy(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(15));
}
