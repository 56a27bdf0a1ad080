import type { LinePattern, ParsedLine } from './pattern.js';

/** One line of a file: its text (no line end) and the byte range it occupies, line end included. */
export interface Line {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Longer than `maxLineBytes`: `text` holds its first `maxLineBytes` bytes, the rest was skipped. */
  readonly oversized?: true;
}

export interface SplitOptions {
  /** The file will not grow (rotated away, or idle with a newer file beside it): a partial last line is a line. */
  readonly final: boolean;
  /** A line longer than this is cut here: its start is kept, the rest skipped (memory stays bounded). */
  readonly maxLineBytes: number;
  /** The bytes at `base` are the rest of a line already cut: skip them up to its line end. */
  readonly skipping?: boolean;
}

export interface Split {
  readonly lines: Line[];
  /** The offset just after the last byte the lines cover (and any skipped rest of a cut line). */
  readonly next: number;
  /** The buffer ended inside the skipped rest of a cut line: the next read skips on to its end. */
  readonly skipping?: true;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Splits bytes read at file offset `base` into complete lines. A partial last line is left for the
 * next read (the writer has not finished it), unless `final`. A UTF-8 byte order mark at the start of
 * the file is not part of the first line; CR LF line ends lose their CR. A line longer than
 * `maxLineBytes` keeps its first `maxLineBytes` bytes (it still counts as the record it starts) and the
 * rest is skipped, across reads if need be.
 */
export function splitLines(buf: Buffer, base: number, o: SplitOptions): Split {
  const lines: Line[] = [];
  let from = base === 0 && buf.subarray(0, 3).equals(BOM) ? 3 : 0;
  if (o.skipping === true) {
    const nl = buf.indexOf(NEWLINE, from);
    if (nl < 0) return { lines, next: base + buf.length, skipping: true };
    from = nl + 1;
  }
  while (from < buf.length) {
    const nl = buf.indexOf(NEWLINE, from);
    const length = (nl < 0 ? buf.length : nl) - from;
    if (length > o.maxLineBytes) {
      const cut = from + o.maxLineBytes;
      const end = nl < 0 ? buf.length : nl + 1;
      lines.push({
        text: buf.toString('utf8', from, cut),
        start: base + from,
        end: base + end,
        oversized: true,
      });
      if (nl < 0 && !o.final) return { lines, next: base + end, skipping: true };
      from = end;
      continue;
    }
    if (nl < 0) {
      if (o.final) {
        lines.push({ text: text(buf, from, buf.length), start: base + from, end: base + buf.length });
        from = buf.length;
      }
      break;
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
  /** Why the record is shorter than what was written (a line cut at `maxLineBytes`). */
  readonly note?: string;
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

const CUT_NOTE = 'a line longer than logs.maxLineBytes was cut there';

/**
 * Groups lines into records, as log shippers do for Java logs: a line that matches the pattern starts
 * a record, and every line after it that does not (an exception, its stack trace) continues it, up to
 * `maxRecordChars`. A line that matches nothing and has no record to continue (the top of a file that
 * starts mid-trace, a file in another format) is malformed, with its reason. A cut line is a record
 * (or a continuation) like any other, with a note: it is counted, never dropped.
 *
 * The last record may still get continuation lines, so unless `flushLast` it is held back: `next` is
 * then its start, and the next read begins there again (`held` is that record as it stands). So the offset a fetcher checkpoints is always
 * the start of a record, and no record is ever split across reads. (A held record that was cut is read
 * and cut again: `heldBack` tells the caller that the rest of its line was not skipped.)
 */
export function assembleRecords(
  lines: readonly Line[],
  pattern: LinePattern,
  o: { readonly flushLast: boolean; readonly maxRecordChars: number },
  next: number,
): { items: Assembled[]; next: number; heldBack: boolean; held?: AssembledRecord } {
  const items: Assembled[] = [];
  type Open = {
    parsed: ParsedLine;
    texts: string[];
    chars: number;
    start: number;
    end: number;
    cut: boolean;
  };
  let open: Open | undefined;
  const close = (): void => {
    if (open === undefined) return;
    items.push({
      kind: 'record',
      parsed: withContinuations(open.parsed, open.texts),
      text: open.texts.join('\n'),
      start: open.start,
      end: open.end,
      ...(open.cut ? { note: CUT_NOTE } : {}),
    });
    open = undefined;
  };
  const malformed = (line: Line, reason: string): void => {
    items.push({ kind: 'malformed', text: line.text, start: line.start, end: line.end, reason });
  };
  for (const line of lines) {
    const cut = line.oversized === true;
    const parsed = pattern.parse(line.text);
    if (parsed !== undefined) {
      close();
      open = { parsed, texts: [line.text], chars: line.text.length, start: line.start, end: line.end, cut };
    } else if (open !== undefined && open.chars + 1 + line.text.length <= o.maxRecordChars) {
      open.texts.push(line.text);
      open.chars += 1 + line.text.length;
      open.end = line.end;
      open.cut ||= cut;
    } else if (open !== undefined) {
      close();
      malformed(line, `continuation line beyond the longest record allowed (${o.maxRecordChars} characters)`);
    } else if (line.text.trim() !== '') {
      const why = `line does not match the log pattern "${pattern.source}" and follows no record`;
      malformed(line, cut ? `${why}; ${CUT_NOTE}` : why);
    }
  }
  if (open !== undefined && !o.flushLast) {
    // Held back, and given to the caller as it would be flushed: if the file is truncated before the
    // record's continuation time is up (logrotate's copytruncate), its bytes are gone from the file.
    const start = open.start;
    const at = items.length;
    close();
    const held = items.splice(at, 1)[0] as AssembledRecord;
    return { items, next: start, heldBack: true, held };
  }
  close();
  return { items, next, heldBack: false };
}

function withContinuations(parsed: ParsedLine, texts: readonly string[]): ParsedLine {
  if (texts.length === 1) return parsed;
  return { ...parsed, message: [parsed.message, ...texts.slice(1)].join('\n') };
}
