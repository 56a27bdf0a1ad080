import {
  compilePieces,
  levelOf,
  patternError,
  type Field,
  type LinePattern,
  type LineTime,
  type ParsedLine,
  type Piece,
} from './pattern.js';

/**
 * The layouts a log source can be written in, each read with its own framework's syntax so a pattern
 * can be pasted from the application's logging config:
 *
 *   logback   %d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n           (logback.xml)
 *   log4j2    %d{yyyy-MM-dd HH:mm:ss.SSS} [%t] %-5level %c{1.} - %m%n          (log4j2.xml PatternLayout)
 *   python    %(asctime)s - %(name)s - %(levelname)s - %(message)s             (logging.Formatter)
 *   json      one JSON object per line, with a time, a level and a message field (structured logging)
 *
 * logback and log4j2 conversion words (aliases as in each):
 *   %d %date{fmt}        timestamp: fmt of yyyy yy MM dd HH mm ss SSS XXX Z and 'literals', or a named
 *                        format (ISO8601, and log4j2's DEFAULT ABSOLUTE COMPACT); a zone option
 *                        `{…}{UTC}` is accepted (the source's `timezone` decides)
 *   %thread %t           thread name                 %level %le %p   the level
 *   %logger %lo %c       logger name ({n} and {1.} abbreviations accepted)
 *   %msg %message %m     the message: the rest of the line
 *   %X{k} %mdc %C %class %F %file %M %method %L %line %r %relative %sn %pid %tid   matched, not kept
 *   %n %ex %throwable %xEx  line end and exceptions (they follow on lines of their own)   %%  a percent
 * Format modifiers (`%-5level`, `%.10logger`, `%20.30thread`) are accepted: padding is matched as
 * optional spaces. Any other text matches literally; a run of spaces matches one or more spaces.
 *
 * Python's `%(name)s` attributes: asctime (with `dateFormat`, strftime, default "%Y-%m-%d %H:%M:%S"
 * followed by ",%(msecs)03d" as logging writes it), levelname, name, message, threadName; msecs fills
 * the milliseconds; created, relativeCreated, thread, process, processName, module, funcName, lineno,
 * filename, pathname, levelno are matched, not kept. Python's own default format
 * ("%(levelname)s:%(name)s:%(message)s") has no time: such lines are dated when they are read.
 */
export const LAYOUTS = ['logback', 'log4j2', 'python', 'json'] as const;
export type Layout = (typeof LAYOUTS)[number];

export const DEFAULT_LOG_PATTERN = '%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n';

/** Each layout's default pattern. */
export const DEFAULT_PATTERNS: Readonly<Record<Layout, string>> = {
  logback: DEFAULT_LOG_PATTERN,
  log4j2: '%d{HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n',
  python: '%(asctime)s - %(name)s - %(levelname)s - %(message)s',
  json: '',
};

export interface LayoutSpec {
  readonly layout: Layout;
  readonly pattern: string;
  /** Python: asctime's strftime format (logging's `datefmt`). */
  readonly dateFormat?: string | undefined;
  /** JSON lines: which fields hold what (each may be a dotted path). */
  readonly json?: JsonFields | undefined;
}

export interface JsonFields {
  readonly time: readonly string[];
  readonly level: readonly string[];
  readonly message: readonly string[];
  readonly logger: readonly string[];
  readonly thread: readonly string[];
}

export const DEFAULT_JSON_FIELDS: JsonFields = {
  time: ['@timestamp', 'timestamp', 'time', 'ts'],
  level: ['level', 'severity', 'log.level', 'levelname'],
  message: ['message', 'msg'],
  logger: ['logger', 'logger_name', 'name', 'log.logger'],
  thread: ['thread', 'thread_name', 'threadName'],
};

/** Compiles a source's layout. Throws a VigilError naming what it does not understand. */
export function compileLayout(spec: LayoutSpec): LinePattern {
  switch (spec.layout) {
    case 'logback':
    case 'log4j2':
      return compilePieces(spec.pattern, javaPieces(spec.pattern, spec.layout));
    case 'python':
      return compilePieces(spec.pattern, pythonPieces(spec.pattern, spec.dateFormat), true);
    case 'json':
      return jsonLines(spec.json ?? DEFAULT_JSON_FIELDS);
  }
}

/** A logback layout pattern (the default layout). */
export function compileLogPattern(pattern: string): LinePattern {
  return compileLayout({ layout: 'logback', pattern });
}

const JAVA_WORDS: Readonly<Record<string, Field | 'end'>> = {
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
  C: 'ignored',
  class: 'ignored',
  F: 'ignored',
  file: 'ignored',
  M: 'ignored',
  method: 'ignored',
  L: 'ignored',
  line: 'ignored',
  r: 'ignored',
  relative: 'ignored',
  sn: 'ignored',
  pid: 'ignored',
  tid: 'ignored',
  n: 'end',
  ex: 'end',
  throwable: 'end',
  xEx: 'end',
};

const DIGIT_WORDS = new Set(['L', 'line', 'r', 'relative', 'sn', 'pid', 'tid']);

/** Named date formats; logback's ISO8601 has a space where log4j2's has a T. */
const NAMED_DATES: Readonly<Record<'logback' | 'log4j2', Readonly<Record<string, string>>>> = {
  logback: { ISO8601: 'yyyy-MM-dd HH:mm:ss,SSS' },
  log4j2: {
    ISO8601: "yyyy-MM-dd'T'HH:mm:ss,SSS",
    DEFAULT: 'yyyy-MM-dd HH:mm:ss,SSS',
    ABSOLUTE: 'HH:mm:ss,SSS',
    COMPACT: 'yyyyMMddHHmmssSSS',
  },
};

/** A logback or log4j2 layout pattern as pieces. */
function javaPieces(pattern: string, layout: 'logback' | 'log4j2'): Piece[] {
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
      const m = /^%(-?\d*(?:\.-?\d+)?)([A-Za-z]+)(?:\{([^}]*)\})?(?:\{[^}]*\})?/.exec(pattern.slice(i));
      if (m === null) throw patternError(pattern, i, 'a conversion word is expected after %');
      const [whole, modifier = '', word = '', option] = m;
      const field = JAVA_WORDS[word];
      if (field === undefined) throw patternError(pattern, i, `%${word} is not supported`);
      if (field !== 'end') {
        const named = NAMED_DATES[layout][option ?? 'ISO8601'];
        pieces.push({
          kind: 'field',
          field,
          padded: modifier !== '',
          ...(field === 'time' ? { dateFormat: named ?? option ?? 'yyyy-MM-dd HH:mm:ss,SSS' } : {}),
          ...(DIGIT_WORDS.has(word) ? { matches: 'digits' as const } : {}),
        });
      }
      i += whole.length;
    }
  }
  return pieces;
}

const PYTHON_ATTRIBUTES: Readonly<Record<string, Field | 'msecs'>> = {
  asctime: 'time',
  levelname: 'level',
  name: 'logger',
  message: 'message',
  threadName: 'thread',
  msecs: 'msecs',
  created: 'ignored',
  relativeCreated: 'ignored',
  thread: 'ignored',
  process: 'ignored',
  processName: 'ignored',
  module: 'ignored',
  funcName: 'ignored',
  lineno: 'ignored',
  filename: 'ignored',
  pathname: 'ignored',
  levelno: 'ignored',
};

/** strftime directives -> date tokens (the ones logging's asctime uses). */
const STRFTIME: Readonly<Record<string, string>> = {
  Y: 'yyyy',
  y: 'yy',
  m: 'MM',
  d: 'dd',
  H: 'HH',
  M: 'mm',
  S: 'ss',
  z: 'Z',
};

/** A Python logging format as pieces. */
function pythonPieces(pattern: string, dateFormat: string | undefined): Piece[] {
  const pieces: Piece[] = [];
  // logging writes asctime as datefmt, or "%Y-%m-%d %H:%M:%S,<msecs>" when none is given.
  const asctime = dateFormat === undefined ? 'yyyy-MM-dd HH:mm:ss,SSS' : strftime(dateFormat, pattern);
  let i = 0;
  while (i < pattern.length) {
    const m = /^%\((\w+)\)(-?\d*(?:\.\d+)?)[sdfr]/.exec(pattern.slice(i));
    if (m !== null) {
      const [whole, attribute = '', width = ''] = m;
      const field = PYTHON_ATTRIBUTES[attribute];
      if (field === undefined) throw patternError(pattern, i, `%(${attribute}) is not a logging attribute`);
      if (field === 'msecs') joinMillis(pieces);
      else
        pieces.push({
          kind: 'field',
          field,
          padded: width !== '',
          ...(field === 'time' ? { dateFormat: asctime } : {}),
        });
      i += whole.length;
    } else if (pattern.startsWith('%%', i)) {
      pieces.push({ kind: 'literal', text: '%' });
      i += 2;
    } else if (pattern[i] === ' ') {
      while (pattern[i] === ' ') i += 1;
      pieces.push({ kind: 'spaces' });
    } else {
      pieces.push({ kind: 'literal', text: pattern[i] ?? '' });
      i += 1;
    }
  }
  return pieces;
}

/**
 * `%(msecs)03d` after `%(asctime)s` (a datefmt without milliseconds, then e.g. ".%(msecs)03d"): the
 * milliseconds join the time, with the text between them. Without an asctime before, it is matched
 * and dropped.
 */
function joinMillis(pieces: Piece[]): void {
  let timeAt = -1;
  pieces.forEach((p, i) => {
    if (p.kind === 'field' && p.field === 'time') timeAt = i;
  });
  const time = pieces[timeAt];
  const between = pieces.slice(timeAt + 1);
  if (time?.kind !== 'field' || !between.every((p) => p.kind !== 'field')) {
    pieces.push({ kind: 'field', field: 'ignored', padded: false, matches: 'digits' });
    return;
  }
  const sep = between.map((p) => (p.kind === 'literal' ? p.text : ' ')).join('');
  pieces.splice(timeAt, pieces.length - timeAt, {
    ...time,
    dateFormat: `${time.dateFormat ?? ''}'${sep}'SSS`,
  });
}

function strftime(format: string, pattern: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i] ?? '';
    if (ch !== '%') {
      out += /[A-Za-z]/.test(ch) ? `'${ch}'` : ch;
      continue;
    }
    const d = format[i + 1] ?? '';
    const token = STRFTIME[d];
    if (token === undefined)
      throw patternError(
        pattern,
        0,
        `dateFormat "${format}": %${d} is not supported (use %Y %y %m %d %H %M %S %z)`,
      );
    out += token;
    i += 1;
  }
  return out;
}

/** JSON lines: each line one object; its time is an ISO 8601 text or epoch milliseconds (or seconds). */
function jsonLines(fields: JsonFields): LinePattern {
  const pick = (o: Record<string, unknown>, names: readonly string[]): unknown => {
    for (const name of names) {
      const v = name
        .split('.')
        .reduce<unknown>(
          (x, k) => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[k] : undefined),
          o,
        );
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  };
  return {
    source: `json (time: ${fields.time.join('|')}, level: ${fields.level.join('|')})`,
    parse(line: string): ParsedLine | undefined {
      const text = line.trim();
      if (!text.startsWith('{')) return undefined;
      let o: unknown;
      try {
        o = JSON.parse(text);
      } catch {
        return undefined;
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
      const record = o as Record<string, unknown>;
      const when = instantOf(pick(record, fields.time));
      const level = levelOf(textOf(pick(record, fields.level)) ?? '');
      if (when === undefined || level === undefined) return undefined;
      const message = pick(record, fields.message);
      const logger = textOf(pick(record, fields.logger));
      const thread = textOf(pick(record, fields.thread));
      return {
        ...when,
        level,
        message: typeof message === 'string' ? message : JSON.stringify(message ?? ''),
        ...(logger === undefined ? {} : { logger }),
        ...(thread === undefined ? {} : { thread }),
      };
    },
  };
}

/** A field's value as text (strings, numbers, booleans); undefined for anything else. */
function textOf(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/**
 * ISO 8601 text, or a number of epoch ms (or seconds, below 1e11). Text with an offset (or Z) is an
 * instant; without one it is a local time of the source's zone.
 */
function instantOf(v: unknown): { ts: number } | { time: LineTime } | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0)
    return { ts: Math.round(v < 1e11 ? v * 1000 : v) };
  if (typeof v !== 'string') return undefined;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      v.trim(),
    );
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, sec = '0', frac = '0', zone] = m;
  const time: LineTime = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(sec),
    millis: Number(frac.padEnd(3, '0').slice(0, 3)),
  };
  const [month, day] = [Number(mo), Number(d)];
  if (month < 1 || month > 12 || day < 1 || day > 31 || time.hour > 23) return undefined;
  if (zone === undefined) return { time };
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.replace(':', '');
  const offset = zone === 'Z' ? 0 : sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  return { time: { ...time, offsetMinutes: offset } };
}
