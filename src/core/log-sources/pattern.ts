import { VigilError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log-record.js';

/**
 * Log line patterns in logback's own layout syntax, so a Java shop can paste its `logback.xml`
 * pattern into Vigil's config. The default is logback's documented example:
 *
 *   %d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n
 *   15:12:01.123 [main] ERROR c.e.Billing - payment failed
 *
 * Conversion words understood (aliases as in logback):
 *   %d %date{fmt}        timestamp: fmt of yyyy yy MM dd HH mm ss SSS and literals; ISO8601 (default)
 *   %thread %t           thread name
 *   %level %le %p        TRACE DEBUG INFO WARN ERROR (FATAL and WARNING are read as ERROR / WARN)
 *   %logger %lo %c       logger name ({n} abbreviation lengths are accepted and ignored)
 *   %msg %message %m     the message: the rest of the line
 *   %X{key} %mdc{key}    an MDC value (matched, not kept)
 *   %n                   the line end (ignored)   %%  a literal percent
 * Format modifiers (`%-5level`, `%.10logger`, `%20.30thread`) are accepted: padding is matched as
 * optional spaces. Any other text matches literally; a run of spaces matches one or more spaces.
 */
export const DEFAULT_LOG_PATTERN = '%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n';

/** What a matching line holds. `time` is the timestamp's fields, resolved to epoch ms by `resolveTime`. */
export interface ParsedLine {
  readonly time: LineTime;
  readonly level: LogLevel;
  readonly thread?: string;
  readonly logger?: string;
  readonly message: string;
}

/** A timestamp as written: a date is present only when the pattern has one. */
export interface LineTime {
  readonly year?: number;
  readonly month?: number;
  readonly day?: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millis: number;
}

export interface LinePattern {
  readonly source: string;
  /** The parsed line, or undefined when the line does not match the pattern. */
  parse(line: string): ParsedLine | undefined;
}

type Field = 'time' | 'level' | 'thread' | 'logger' | 'message' | 'ignored';

const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  FATAL: 'ERROR',
  SEVERE: 'ERROR',
  WARNING: 'WARN',
  FINE: 'DEBUG',
  FINER: 'TRACE',
  FINEST: 'TRACE',
};

const WORDS: Readonly<Record<string, Field>> = {
  d: 'time',
  date: 'time',
  thread: 'thread',
  t: 'thread',
  level: 'level',
  le: 'level',
  p: 'level',
  logger: 'logger',
  lo: 'logger',
  c: 'logger',
  msg: 'message',
  message: 'message',
  m: 'message',
  X: 'ignored',
  mdc: 'ignored',
};

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Date format tokens (java.text.SimpleDateFormat letters logback uses), longest first. */
const DATE_TOKENS: readonly (readonly [string, string, keyof LineTime])[] = [
  ['yyyy', '(\\d{4})', 'year'],
  ['SSS', '(\\d{3})', 'millis'],
  ['yy', '(\\d{2})', 'year'],
  ['MM', '(\\d{2})', 'month'],
  ['dd', '(\\d{2})', 'day'],
  ['HH', '(\\d{2})', 'hour'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
];

const NAMED_DATE_FORMATS: Readonly<Record<string, string>> = {
  ISO8601: 'yyyy-MM-dd HH:mm:ss,SSS',
};

/** A date format as a regex source and the time field each of its groups fills. */
function compileDate(format: string): { regex: string; fields: (keyof LineTime)[] } {
  const fmt = NAMED_DATE_FORMATS[format] ?? format;
  let regex = '';
  const fields: (keyof LineTime)[] = [];
  let i = 0;
  while (i < fmt.length) {
    if (fmt[i] === "'") {
      const end = fmt.indexOf("'", i + 1);
      const literal = end < 0 ? fmt.slice(i + 1) : fmt.slice(i + 1, end);
      regex += escapeRegex(literal);
      i = end < 0 ? fmt.length : end + 1;
      continue;
    }
    const token = DATE_TOKENS.find(([t]) => fmt.startsWith(t, i));
    if (token !== undefined) {
      regex += token[1];
      fields.push(token[2]);
      i += token[0].length;
      continue;
    }
    if (/[A-Za-z]/.test(fmt[i] ?? '')) {
      throw new VigilError(
        `date format "${format}": "${fmt[i] ?? ''}" is not supported (use yyyy yy MM dd HH mm ss SSS)`,
        { code: 'LOG_PATTERN_INVALID' },
      );
    }
    regex += escapeRegex(fmt[i] ?? '');
    i += 1;
  }
  for (const needed of ['hour', 'minute', 'second'] as const) {
    if (!fields.includes(needed))
      throw new VigilError(`date format "${format}" has no ${needed}: lines could not be placed in time`, {
        code: 'LOG_PATTERN_INVALID',
      });
  }
  return { regex, fields };
}

interface Group {
  readonly field: Field;
  /** For time groups: which time field each capture fills. */
  readonly timeFields?: readonly (keyof LineTime)[];
}

/** A pattern as pieces: text to match literally, a run of spaces, or a field to capture. */
export type Piece =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'spaces' }
  | { readonly kind: 'field'; readonly field: Field; readonly padded: boolean; readonly dateFormat?: string };

/** A logback (or log4j2) layout pattern as pieces. Throws a VigilError naming what it does not understand. */
function logbackPieces(pattern: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i] ?? '';
    if (ch === ' ') {
      while (pattern[i] === ' ') i += 1;
      pieces.push({ kind: 'spaces' });
    } else if (ch !== '%') {
      pieces.push({ kind: 'literal', text: ch });
      i += 1;
    } else if (pattern[i + 1] === '%') {
      pieces.push({ kind: 'literal', text: '%' });
      i += 2;
    } else {
      const m = /^%(-?\d*(?:\.-?\d+)?)([A-Za-z]+)(?:\{([^}]*)\})?/.exec(pattern.slice(i));
      if (m === null) throw patternError(pattern, i, 'a conversion word is expected after %');
      const [whole, modifier = '', word = '', option] = m;
      if (word !== 'n') {
        const field = WORDS[word];
        if (field === undefined) throw patternError(pattern, i, `%${word} is not supported`);
        pieces.push({
          kind: 'field',
          field,
          padded: modifier !== '',
          ...(field === 'time' ? { dateFormat: option ?? 'ISO8601' } : {}),
        });
      }
      i += whole.length;
    }
  }
  return pieces;
}

/** The regex source of one piece, and the groups it captures. */
function pieceRegex(piece: Piece, groups: Group[]): string {
  if (piece.kind === 'literal') return escapeRegex(piece.text);
  if (piece.kind === 'spaces') return ' +';
  const pad = piece.padded ? ' *' : '';
  switch (piece.field) {
    case 'time': {
      const date = compileDate(piece.dateFormat ?? 'ISO8601');
      for (const f of date.fields) groups.push({ field: 'time', timeFields: [f] });
      return date.regex;
    }
    case 'level':
      groups.push({ field: piece.field });
      return `${pad}([A-Za-z]+)${pad}`;
    case 'message':
      groups.push({ field: piece.field });
      return '(.*)';
    case 'thread':
    case 'logger':
    case 'ignored':
      // The next literal bounds these fields; they may hold spaces (threads often do).
      groups.push({ field: piece.field });
      return `${pad}(.*?)${pad}`;
  }
}

/** Compiles a logback layout pattern. Throws a VigilError naming what it does not understand. */
export function compileLogPattern(pattern: string): LinePattern {
  return compilePieces(pattern, logbackPieces(pattern));
}

/** A line pattern from its pieces: each field once (but ignored ones), a time, a level and a message. */
export function compilePieces(source: string, pieces: readonly Piece[]): LinePattern {
  const seen = new Set<Field>();
  for (const p of pieces) {
    if (p.kind !== 'field') continue;
    if (p.field !== 'ignored' && seen.has(p.field))
      throw patternError(source, 0, `the ${p.field} appears twice`);
    seen.add(p.field);
  }
  if (!seen.has('time')) throw patternError(source, 0, 'the pattern needs a timestamp (%d)');
  if (!seen.has('level')) throw patternError(source, 0, 'the pattern needs a level (%level)');
  if (!seen.has('message')) throw patternError(source, 0, 'the pattern needs a message (%msg)');
  const groups: Group[] = [];
  const compiled = new RegExp(`^${pieces.map((p) => pieceRegex(p, groups)).join('')}$`);
  return {
    source,
    parse(line: string): ParsedLine | undefined {
      const match = compiled.exec(line);
      return match === null ? undefined : lineOf(match, groups);
    },
  };
}

/** The fields of a matching line, or undefined when its level or time is not a real one. */
function lineOf(match: RegExpExecArray, groups: readonly Group[]): ParsedLine | undefined {
  const time: { -readonly [K in keyof LineTime]?: number } = {};
  const text: { -readonly [K in Field]?: string } = {};
  groups.forEach((g, index) => {
    const value = match[index + 1] ?? '';
    const f = g.timeFields?.[0];
    if (g.field !== 'time') text[g.field] = value;
    else if (f !== undefined) time[f] = Number(value) + (f === 'year' && value.length === 2 ? 2000 : 0);
  });
  const level = levelOf(text.level ?? '');
  if (level === undefined || !validTime(time)) return undefined;
  return {
    time: time as LineTime,
    level,
    message: text.message ?? '',
    ...(text.thread === undefined ? {} : { thread: text.thread }),
    ...(text.logger === undefined ? {} : { logger: text.logger }),
  };
}

function levelOf(text: string): LogLevel | undefined {
  const upper = text.toUpperCase();
  if ((LOG_LEVELS as readonly string[]).includes(upper)) return upper as LogLevel;
  return LEVEL_ALIASES[upper];
}

function validTime(t: { -readonly [K in keyof LineTime]?: number }): boolean {
  const { hour = -1, minute = -1, second = -1 } = t;
  if (hour > 23 || minute > 59 || second > 60 || hour < 0 || minute < 0 || second < 0) return false;
  if (t.month !== undefined && (t.month < 1 || t.month > 12)) return false;
  if (t.day !== undefined && (t.day < 1 || t.day > 31)) return false;
  t.millis ??= 0;
  return true;
}

function patternError(pattern: string, at: number, why: string): VigilError {
  return new VigilError(`log pattern "${pattern}" at ${at + 1}: ${why}`, { code: 'LOG_PATTERN_INVALID' });
}

/**
 * Epoch ms of a line's timestamp, written in the zone `offsetMinutes` east of UTC. A pattern without
 * a date (logback's default) gives a time of day: it is placed on the day of `now` in that zone, or
 * on the day before when that would put it more than an hour in the future (a line written at
 * 23:59:59 and read just after midnight belongs to yesterday).
 */
export function resolveTime(t: LineTime, now: number, offsetMinutes: number): number {
  const offsetMs = offsetMinutes * 60_000;
  const local = new Date(now + offsetMs);
  const year = t.year ?? local.getUTCFullYear();
  const month = t.month === undefined ? local.getUTCMonth() : t.month - 1;
  const day = t.day ?? local.getUTCDate();
  const ts = Date.UTC(year, month, day, t.hour, t.minute, t.second, t.millis) - offsetMs;
  if (t.day === undefined && ts > now + 3_600_000) return ts - 86_400_000;
  return ts;
}

/** "+02:00", "-0530", "Z" or "UTC" as minutes east of UTC; undefined when not an offset. */
export function parseUtcOffset(text: string): number | undefined {
  if (text === 'Z' || text.toUpperCase() === 'UTC') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (m === null) return undefined;
  const [, sign, hh = '0', mm = '0'] = m;
  const minutes = Number(hh) * 60 + Number(mm);
  if (Number(hh) > 14 || Number(mm) > 59) return undefined;
  return sign === '-' ? -minutes : minutes;
}
