import { VigilError } from '../errors.js';
import type { LineTime, ParsedLine } from './pattern.js';
import { fixedZone, localToUtc, type TimeZone } from './zone.js';

/**
 * The dates of log lines that carry only a time of day (logback's default layout does).
 *
 * A file's first line is dated from the file: from its NAME when the source's `fileNamePattern`
 * carries a date and the name matches it (a rolled file, `app.2021-10-17.3.log`), otherwise from its
 * MODIFICATION TIME, the moment of its last line: the first line is on that day, or on the day before
 * when its time of day is later than the modification's (a file that ran past midnight). From there
 * each file keeps a cursor (the day, and the time of day of its last line): a time of day more than an
 * hour earlier than the last one moves to the next day (midnight passed), a smaller step back is lines
 * of several threads slightly out of order. The cursor is checkpointed with the file's position, so a
 * restart or another node goes on with the same dates. Lines whose pattern has a full date keep it.
 *
 * All in the source's time zone (`timezone`: UTC, an offset, or an IANA zone). A line that writes its
 * own offset, or an instant (JSON lines), keeps it. A line with no time at all (Python's default
 * format) is dated when it is read.
 */
export interface DateCursor {
  /** The day of the last line: days since 1970-01-01 in the source's zone. */
  readonly day: number;
  /** The last line's time of day, ms. */
  readonly tod: number;
}

const DAY_MS = 86_400_000;
/** A time of day this much earlier than the last line's means the next day. */
const ROLLOVER_MS = 3_600_000;

const todOf = (t: LineTime): number => ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000 + t.millis;

/** A calendar date in the source's zone as days since 1970-01-01. */
export const epochDay = (year: number, month: number, day: number): number =>
  Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);

/** Where a file's dates start. */
export interface FileDating {
  /** The date in the file's name (fileNamePattern), when it has one. */
  readonly nameDay: number | undefined;
  /** The file's modification time (epoch ms). */
  readonly mtimeMs: number;
  readonly zone: TimeZone;
  /** When the line was read (for lines with no time). */
  readonly readAt: number;
}

/** The cursor of a file's first line, whose time of day is `tod`. */
function startCursor(f: FileDating, tod: number): DateCursor {
  if (f.nameDay !== undefined) return { day: f.nameDay, tod };
  const local = f.mtimeMs + f.zone.offsetAt(f.mtimeMs) * 60_000;
  const day = Math.floor(local / DAY_MS);
  const modifiedTod = local - day * DAY_MS;
  // Written after the file was last modified cannot be: it is from the day before.
  return { day: tod > modifiedTod + ROLLOVER_MS ? day - 1 : day, tod };
}

/** A line's epoch ms, and the file's cursor after it (unchanged by lines that say their instant). */
export function placeLine(
  line: Pick<ParsedLine, 'time' | 'ts'>,
  cursor: DateCursor | undefined,
  file: FileDating,
): { readonly ts: number; readonly cursor: DateCursor | undefined } {
  const t = line.time;
  if (line.ts !== undefined) return { ts: line.ts, cursor };
  if (t === undefined) return { ts: file.readAt, cursor };
  const tod = todOf(t);
  let day: number;
  if (t.year !== undefined && t.month !== undefined && t.day !== undefined)
    day = epochDay(t.year, t.month, t.day);
  else {
    const at = cursor ?? startCursor(file, tod);
    day = cursor !== undefined && tod < cursor.tod - ROLLOVER_MS ? cursor.day + 1 : at.day;
  }
  const local = day * DAY_MS + tod;
  const ts = t.offsetMinutes !== undefined ? local - t.offsetMinutes * 60_000 : localToUtc(local, file.zone);
  return { ts, cursor: { day, tod } };
}

/**
 * A time of day placed on the day of `now` in a zone `offsetMinutes` east of UTC, or on the day
 * before when that would put it more than an hour after `now` (a line of 23:59 read just after
 * midnight): what placeLine does for a file last modified at `now`.
 */
export function resolveTime(t: LineTime, now: number, offsetMinutes: number): number {
  return placeLine({ time: t }, undefined, {
    nameDay: undefined,
    mtimeMs: now,
    zone: fixedZone(offsetMinutes),
    readAt: now,
  }).ts;
}

/**
 * The date a rolled file's name carries, by the source's `fileNamePattern` in logback's syntax:
 * `%d{…}` (yyyy MM dd; default yyyy-MM-dd), `%i` (the index), and `*` for anything; other text is
 * literal. `undefined` for a name that does not match (the file being written, say).
 */
export function compileFileNamePattern(pattern: string): (name: string) => number | undefined {
  let regex = '^';
  const fields: ('year' | 'month' | 'day')[] = [];
  for (let i = 0; i < pattern.length;) {
    const date = /^%d(?:\{([^}]*)\})?/.exec(pattern.slice(i));
    if (date !== null) {
      const format = date[1] ?? 'yyyy-MM-dd';
      regex += dateRegex(format, fields, pattern);
      i += date[0].length;
    } else if (pattern.startsWith('%i', i)) {
      regex += '\\d+';
      i += 2;
    } else {
      const ch = pattern[i] ?? '';
      regex += ch === '*' ? '.*' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i += 1;
    }
  }
  for (const needed of ['year', 'month', 'day'] as const)
    if (!fields.includes(needed))
      throw new VigilError(`fileNamePattern "${pattern}" has no ${needed} in its %d{…}`, {
        code: 'LOG_PATTERN_INVALID',
      });
  const compiled = new RegExp(`${regex}$`);
  return (name) => {
    const m = compiled.exec(name);
    if (m === null) return undefined;
    const v: Partial<Record<'year' | 'month' | 'day', number>> = {};
    fields.forEach((f, i) => (v[f] = Number(m[i + 1])));
    const { year = 0, month = 0, day = 0 } = v;
    if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
    return epochDay(year, month, day);
  };
}

function dateRegex(format: string, fields: ('year' | 'month' | 'day')[], pattern: string): string {
  let out = '';
  for (let i = 0; i < format.length;) {
    const token = (['yyyy', 'MM', 'dd'] as const).find((t) => format.startsWith(t, i));
    if (token !== undefined) {
      out += token === 'yyyy' ? '(\\d{4})' : '(\\d{2})';
      fields.push(token === 'yyyy' ? 'year' : token === 'MM' ? 'month' : 'day');
      i += token.length;
    } else if (/[A-Za-z]/.test(format[i] ?? '')) {
      // Hours and the like in a rolled name (hourly rolling) are matched, not used.
      out += '\\d+';
      while (format[i] === format[i + 1]) i += 1;
      i += 1;
    } else {
      out += (format[i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i += 1;
    }
  }
  if (out === '')
    throw new VigilError(`fileNamePattern "${pattern}": empty %d{}`, { code: 'LOG_PATTERN_INVALID' });
  return out;
}
