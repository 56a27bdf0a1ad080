import { VigilError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log-record.js';

/**
 * Log line patterns compiled to a matcher, whatever the layout they were written in (layouts.ts turns
 * logback, log4j2 and Python patterns into PIECES; this file matches lines against them). A piece is
 * text to match literally, a run of spaces (one or more), or a field to capture: the time, the level,
 * the thread, the logger, the message (the rest of the line), or a field that is matched and dropped.
 */

/** What a matching line holds: its time as written (`time`), or an instant (`ts`) when it has one. */
export interface ParsedLine {
  readonly time?: LineTime;
  /** Epoch ms, when the line says its instant itself (JSON lines). */
  readonly ts?: number;
  readonly level: LogLevel;
  readonly thread?: string;
  readonly logger?: string;
  readonly message: string;
}

/** A timestamp as written: a date is present only when the pattern has one, an offset likewise. */
export interface LineTime {
  readonly year?: number;
  readonly month?: number;
  readonly day?: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millis: number;
  /** Minutes east of UTC, when the line writes its zone offset. */
  readonly offsetMinutes?: number;
}

export interface LinePattern {
  readonly source: string;
  /** The parsed line, or undefined when the line does not match the pattern. */
  parse(line: string): ParsedLine | undefined;
}

export type Field = 'time' | 'level' | 'thread' | 'logger' | 'message' | 'ignored';

/** A pattern as pieces: text to match literally, a run of spaces, or a field to capture. */
export type Piece =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'spaces' }
  | {
      readonly kind: 'field';
      readonly field: Field;
      readonly padded: boolean;
      /** For time: a date format of yyyy yy MM dd HH mm ss SSS XXX Z and literals. */
      readonly dateFormat?: string;
      /** For ignored fields: what they match (digits, a word); default any text up to the next piece. */
      readonly matches?: 'digits';
    };

const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  FATAL: 'ERROR',
  SEVERE: 'ERROR',
  CRITICAL: 'ERROR',
  WARNING: 'WARN',
  FINE: 'DEBUG',
  FINER: 'TRACE',
  FINEST: 'TRACE',
};

/** TRACE DEBUG INFO WARN ERROR in any case, and the aliases other frameworks use; undefined otherwise. */
export function levelOf(text: string): LogLevel | undefined {
  const upper = text.toUpperCase();
  if ((LOG_LEVELS as readonly string[]).includes(upper)) return upper as LogLevel;
  return LEVEL_ALIASES[upper];
}

export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Date format tokens (java.text.SimpleDateFormat letters), longest first. */
const DATE_TOKENS: readonly (readonly [string, string, keyof LineTime])[] = [
  ['yyyy', '(\\d{4})', 'year'],
  ['SSS', '(\\d{3})', 'millis'],
  ['XXX', '(Z|[+-]\\d{2}:\\d{2})', 'offsetMinutes'],
  ['yy', '(\\d{2})', 'year'],
  ['MM', '(\\d{2})', 'month'],
  ['dd', '(\\d{2})', 'day'],
  ['HH', '(\\d{2})', 'hour'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
  ['Z', '([+-]\\d{4})', 'offsetMinutes'],
];

/** A date format as a regex source and the time field each of its groups fills. */
export function compileDate(format: string): { regex: string; fields: (keyof LineTime)[] } {
  let regex = '';
  const fields: (keyof LineTime)[] = [];
  let i = 0;
  while (i < format.length) {
    if (format[i] === "'") {
      const end = format.indexOf("'", i + 1);
      regex += escapeRegex(end < 0 ? format.slice(i + 1) : format.slice(i + 1, end));
      i = end < 0 ? format.length : end + 1;
      continue;
    }
    const token = DATE_TOKENS.find(([t]) => format.startsWith(t, i));
    if (token !== undefined) {
      regex += token[1];
      fields.push(token[2]);
      i += token[0].length;
      continue;
    }
    if (/[A-Za-z]/.test(format[i] ?? '')) {
      throw new VigilError(
        `date format "${format}": "${format[i] ?? ''}" is not supported (use yyyy yy MM dd HH mm ss SSS XXX Z)`,
        { code: 'LOG_PATTERN_INVALID' },
      );
    }
    regex += escapeRegex(format[i] ?? '');
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
  /** For time groups: which time field the capture fills. */
  readonly timeField?: keyof LineTime;
}

/** The regex source of one piece, and the groups it captures. */
function pieceRegex(piece: Piece, groups: Group[]): string {
  if (piece.kind === 'literal') return escapeRegex(piece.text);
  if (piece.kind === 'spaces') return ' +';
  const pad = piece.padded ? ' *' : '';
  switch (piece.field) {
    case 'time': {
      const date = compileDate(piece.dateFormat ?? 'yyyy-MM-dd HH:mm:ss,SSS');
      for (const f of date.fields) groups.push({ field: 'time', timeField: f });
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
      return piece.matches === 'digits' ? `${pad}(\\d+)${pad}` : `${pad}(.*?)${pad}`;
  }
}

/**
 * A line pattern from its pieces: each field once (but ignored ones), a level and a message. A
 * pattern without a time is allowed when `undated` says so: its lines are dated when they are read.
 */
export function compilePieces(source: string, pieces: readonly Piece[], undated = false): LinePattern {
  const seen = new Set<Field>();
  for (const p of pieces) {
    if (p.kind !== 'field') continue;
    if (p.field !== 'ignored' && seen.has(p.field))
      throw patternError(source, 0, `the pattern has two ${p.field} fields`);
    seen.add(p.field);
  }
  if (!seen.has('time') && !undated) throw patternError(source, 0, 'the pattern needs a timestamp (%d)');
  if (!seen.has('level')) throw patternError(source, 0, 'the pattern needs a level (%level)');
  if (!seen.has('message')) throw patternError(source, 0, 'the pattern needs a message (%msg)');
  const groups: Group[] = [];
  const compiled = new RegExp(`^${pieces.map((p) => pieceRegex(p, groups)).join('')}$`);
  return {
    source,
    parse(line: string): ParsedLine | undefined {
      const match = compiled.exec(line);
      return match === null ? undefined : lineOf(match, groups, seen.has('time'));
    },
  };
}

/** The fields of a matching line, or undefined when its level or time is not a real one. */
function lineOf(match: RegExpExecArray, groups: readonly Group[], dated: boolean): ParsedLine | undefined {
  const time: { -readonly [K in keyof LineTime]?: number } = {};
  const text: { -readonly [K in Field]?: string } = {};
  groups.forEach((g, index) => {
    const value = match[index + 1] ?? '';
    const f = g.timeField;
    if (g.field !== 'time') text[g.field] = value;
    else if (f === 'offsetMinutes') time.offsetMinutes = offsetOf(value);
    else if (f !== undefined) time[f] = Number(value) + (f === 'year' && value.length === 2 ? 2000 : 0);
  });
  const level = levelOf(text.level ?? '');
  if (level === undefined || (dated && !validTime(time))) return undefined;
  return {
    ...(dated ? { time: time as LineTime } : {}),
    level,
    message: text.message ?? '',
    ...(text.thread === undefined ? {} : { thread: text.thread }),
    ...(text.logger === undefined ? {} : { logger: text.logger }),
  };
}

/** "Z", "+02:00" or "+0200" as minutes east of UTC. */
function offsetOf(text: string): number {
  if (text === 'Z') return 0;
  const digits = text.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return text.startsWith('-') ? -minutes : minutes;
}

function validTime(t: { -readonly [K in keyof LineTime]?: number }): boolean {
  const { hour = -1, minute = -1, second = -1 } = t;
  if (hour > 23 || minute > 59 || second > 60 || hour < 0 || minute < 0 || second < 0) return false;
  if (t.month !== undefined && (t.month < 1 || t.month > 12)) return false;
  if (t.day !== undefined && (t.day < 1 || t.day > 31)) return false;
  t.millis ??= 0;
  return true;
}

export function patternError(pattern: string, at: number, why: string): VigilError {
  return new VigilError(`log pattern "${pattern}" at ${at + 1}: ${why}`, { code: 'LOG_PATTERN_INVALID' });
}
