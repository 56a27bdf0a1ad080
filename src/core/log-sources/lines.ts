import type { LinePattern, ParsedLine } from './pattern.js';

/** One line of a file: its text (no line end) and the byte range it occupies, line end included. */
export interface Line {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Split at `maxLineBytes` without a line end: it cannot be a well-formed record. */
  readonly oversized?: true;
}

export interface SplitOptions {
  /** The file will not grow (rotated away, or idle with a newer file beside it): a partial last line is a line. */
  readonly final: boolean;
  /** A line longer than this is cut here and treated as malformed (memory stays bounded). */
  readonly maxLineBytes: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits bytes read at file offset `base` into complete lines. A partial last line is left for the
 * next read (the writer has not finished it), unless `final`. Returns the lines and the offset just
 * after the last byte they cover.
 */
export function splitLines(buf: Buffer, base: number, o: SplitOptions): { lines: Line[]; next: number } {
  const lines: Line[] = [];
  let from = 0;
  while (from < buf.length) {
    const nl = buf.indexOf(NEWLINE, from);
    if (nl < 0 || nl - from > o.maxLineBytes) {
      const rest = buf.length - from;
      if (rest > o.maxLineBytes) {
        const cut = from + o.maxLineBytes;
        lines.push({
          text: buf.toString('utf8', from, cut),
          start: base + from,
          end: base + cut,
          oversized: true,
        });
        from = cut;
        continue;
      }
      if (nl < 0) {
        if (o.final && rest > 0) {
          lines.push({ text: text(buf, from, buf.length), start: base + from, end: base + buf.length });
          from = buf.length;
        }
        break;
      }
    }
    lines.push({ text: text(buf, from, nl), start: base + from, end: base + nl + 1 });
    from = nl + 1;
  }
  return { lines, next: base + from };
}

function text(buf: Buffer, from: number, to: number): string {
  const end = to > from && buf[to - 1] === CR ? to - 1 : to;
  return buf.toString('utf8', from, end);
}

/** A log record: a line matching the pattern and the continuation lines after it (a stack trace). */
export interface AssembledRecord {
  readonly kind: 'record';
  readonly parsed: ParsedLine;
  /** The raw text, continuation lines joined with \n. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** A line that is not a record and cannot continue one: it goes to the dead-letter topic. */
export interface MalformedLine {
  readonly kind: 'malformed';
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly reason: string;
}

export type Assembled = AssembledRecord | MalformedLine;

/**
 * Groups lines into records, as log shippers do for Java logs: a line that matches the pattern starts
 * a record, and every line after it that does not (an exception, its stack trace) continues it, up to
 * `maxRecordChars`. A line that matches nothing and has no record to continue (the top of a file that
 * starts mid-trace, a file in another format) is malformed, with its reason.
 *
 * The last record may still get continuation lines, so unless `flushLast` it is held back: `next` is
 * then its start, and the next read begins there again. So the offset a fetcher checkpoints is always
 * the start of a record, and no record is ever split across reads.
 */
export function assembleRecords(
  lines: readonly Line[],
  pattern: LinePattern,
  o: { readonly flushLast: boolean; readonly maxRecordChars: number },
  next: number,
): { items: Assembled[]; next: number } {
  const items: Assembled[] = [];
  let open: { parsed: ParsedLine; texts: string[]; chars: number; start: number; end: number } | undefined;
  const close = (): void => {
    if (open === undefined) return;
    items.push({
      kind: 'record',
      parsed: withContinuations(open.parsed, open.texts),
      text: open.texts.join('\n'),
      start: open.start,
      end: open.end,
    });
    open = undefined;
  };
  const malformed = (line: Line, reason: string): void => {
    items.push({ kind: 'malformed', text: line.text, start: line.start, end: line.end, reason });
  };
  for (const line of lines) {
    if (line.oversized === true) {
      close();
      malformed(line, 'line is longer than logs.maxLineBytes; cut there');
      continue;
    }
    const parsed = pattern.parse(line.text);
    if (parsed !== undefined) {
      close();
      open = { parsed, texts: [line.text], chars: line.text.length, start: line.start, end: line.end };
    } else if (open !== undefined && open.chars + 1 + line.text.length <= o.maxRecordChars) {
      open.texts.push(line.text);
      open.chars += 1 + line.text.length;
      open.end = line.end;
    } else if (open !== undefined) {
      close();
      malformed(line, `continuation line beyond the longest record allowed (${o.maxRecordChars} characters)`);
    } else if (line.text.trim() !== '') {
      malformed(line, `line does not match the log pattern "${pattern.source}" and follows no record`);
    }
  }
  if (open !== undefined && !o.flushLast) return { items, next: open.start };
  close();
  return { items, next };
}

function withContinuations(parsed: ParsedLine, texts: readonly string[]): ParsedLine {
  if (texts.length === 1) return parsed;
  return { ...parsed, message: [parsed.message, ...texts.slice(1)].join('\n') };
}
