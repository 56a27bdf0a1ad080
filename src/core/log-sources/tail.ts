import type { DateCursor } from './dates.js';

/**
 * Which bytes of which files a log source's fetcher reads next: pure planning over a directory
 * listing, so rotation and truncation are decided (and tested) without touching a disk.
 *
 * A file is known by its identity (device, inode and birth time), not its name: a file renamed by
 * rotation keeps its identity and is finished where it was left; the new file under the old name is a
 * new identity and is read from its start. `head` (the first bytes of the file, up to HEAD_BYTES) tells
 * a file rewritten in place from the same file grown longer.
 *
 * Per tracked file, per poll:
 *   gone from the directory                     -> dropped (reported: bytes written after the last
 *                                                  read and before the deletion cannot be read)
 *   shorter than the offset, or head changed    -> truncated: read again from 0
 *   longer than the offset                      -> read [offset, size), at most maxReadBytes
 *   no longer matching the glob and fully read  -> rotated away and finished: dropped
 * A matching file not tracked yet is new: read from 0.
 * Reads go oldest file first (files seen before, then rotated-away ones, then by modification and birth
 * time), and a file not finished within maxReadBytes holds
 * the newer ones back, so a rotated file's lines always come before its successor's.
 */
export const HEAD_BYTES = 64;

/** A file of the source's directory as the fetcher saw it this poll. */
export interface FileInfo {
  readonly name: string;
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Birth time (0 where the file system does not keep one). */
  readonly createdMs: number;
  /** The file's first min(size, HEAD_BYTES) bytes, as latin1 text. */
  readonly head: string;
}

/** Checkpointed per file: where reading goes on. */
export interface TrackedFile {
  readonly id: string;
  readonly name: string;
  /** The start of the first byte not yet delivered (the start of a record, or of a cut line's rest). */
  readonly offset: number;
  readonly head: string;
  /** The day and time of day of the last line delivered (see dates.ts); absent before the first. */
  readonly date?: DateCursor;
  /** The bytes at `offset` are the rest of a line that was cut (lines.ts): skipped up to its end. */
  readonly skipping?: true;
}

export interface ReadPlan {
  readonly id: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
  /**
   * The file will not grow any more (rotated away, or idle while a newer file is written): its partial
   * last line, if any, is a line, and its last record is complete.
   */
  readonly final: boolean;
  /**
   * Nothing was appended for `multilineTimeoutMs` of wall clock: the last record has all its
   * continuation lines (a logger flushing a stack trace in two writes gets that long for the second).
   */
  readonly idle: boolean;
}

export type TailEvent =
  | { readonly kind: 'new'; readonly name: string }
  | { readonly kind: 'truncated'; readonly name: string; readonly offset: number; readonly id: string }
  | { readonly kind: 'rotated'; readonly name: string; readonly from: string }
  | { readonly kind: 'finished'; readonly name: string }
  | { readonly kind: 'deleted'; readonly name: string; readonly id: string };

export interface TailPlan {
  readonly files: readonly TrackedFile[];
  readonly reads: readonly ReadPlan[];
  readonly events: readonly TailEvent[];
}

export interface PlanOptions {
  readonly matches: (name: string) => boolean;
  readonly maxReadBytes: number;
  /**
   * Each file's size as this process saw it, and since when (wall clock) it has had that size (unknown
   * after a restart): a file unchanged at one poll is done growing if a newer one is written, and its
   * last record complete once it has been unchanged for `multilineTimeoutMs` (logs.multilineTimeout).
   */
  readonly sizes: ReadonlyMap<string, FileSize>;
  readonly now: number;
  readonly multilineTimeoutMs: number;
}

/** A file's size, and since when (wall clock) it has had it. */
export interface FileSize {
  readonly size: number;
  readonly since: number;
}

/** The sizes a poll leaves for the next: a size seen before keeps its time, a new one starts now. */
export function nextSizes(
  listing: readonly FileInfo[],
  before: ReadonlyMap<string, FileSize>,
  now: number,
): Map<string, FileSize> {
  return new Map(
    listing.map((f) => {
      const prev = before.get(f.id);
      return [f.id, prev !== undefined && prev.size === f.size ? prev : { size: f.size, since: now }];
    }),
  );
}

export function planReads(
  tracked: readonly TrackedFile[],
  listing: readonly FileInfo[],
  o: PlanOptions,
): TailPlan {
  const byId = new Map(listing.map((f) => [f.id, f]));
  const events: TailEvent[] = [];
  const files: TrackedFile[] = [];
  const candidates: { file: TrackedFile; info: FileInfo }[] = [];
  const trackedIds = new Set<string>();
  for (const t of tracked) {
    trackedIds.add(t.id);
    const info = byId.get(t.id);
    if (info === undefined) {
      events.push({ kind: 'deleted', name: t.name, id: t.id });
      continue;
    }
    let file = t;
    if (info.name !== t.name) {
      events.push({ kind: 'rotated', name: info.name, from: t.name });
      file = { ...file, name: info.name };
    }
    if (info.size < file.offset || !info.head.startsWith(file.head)) {
      events.push({ kind: 'truncated', name: info.name, offset: file.offset, id: info.id });
      // Rewritten from its start: its dates start over too.
      file = { id: file.id, name: file.name, offset: 0, head: file.head };
    }
    file = { ...file, head: info.head };
    if (!o.matches(info.name) && file.offset >= info.size) {
      events.push({ kind: 'finished', name: info.name });
      continue;
    }
    files.push(file);
    candidates.push({ file, info });
  }
  for (const info of listing) {
    if (trackedIds.has(info.id) || !o.matches(info.name)) continue;
    const file: TrackedFile = { id: info.id, name: info.name, offset: 0, head: info.head };
    events.push({ kind: 'new', name: info.name });
    files.push(file);
    candidates.push({ file, info });
  }
  // File times are coarse (a few ms on Linux), so a rotated file and its successor often tie: files
  // known before this poll go before new ones, rotated-away ones before those still written.
  const known = new Set(tracked.map((t) => t.id));
  const rank = (c: { info: FileInfo }): number =>
    (known.has(c.info.id) ? 0 : 2) + (o.matches(c.info.name) ? 1 : 0);
  candidates.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.info.mtimeMs - b.info.mtimeMs ||
      a.info.createdMs - b.info.createdMs ||
      a.info.name.localeCompare(b.info.name),
  );
  const newest = candidates.reduce((max, c) => Math.max(max, c.info.mtimeMs), Number.NEGATIVE_INFINITY);
  const reads: ReadPlan[] = [];
  for (const { file, info } of candidates) {
    const previous = o.sizes.get(info.id);
    const unchanged = previous !== undefined && previous.size === info.size;
    const idle = unchanged && o.now - previous.since >= o.multilineTimeoutMs;
    const final = !o.matches(info.name) || (unchanged && info.mtimeMs < newest);
    if (info.size <= file.offset) continue;
    const whole = info.size - file.offset <= o.maxReadBytes;
    reads.push({
      id: info.id,
      name: info.name,
      from: file.offset,
      to: whole ? info.size : file.offset + o.maxReadBytes,
      final: final && whole,
      idle: idle && whole,
    });
    // Files are read in order: a file not finished this poll holds the newer ones back, so a
    // rotated file's last lines always come before its successor's first.
    if (!whole) break;
  }
  return { files, reads, events };
}

/** Where a read left a file: its next offset, its date cursor, whether a cut line's rest follows. */
export interface ReadEnd {
  readonly next: number;
  readonly date: DateCursor | undefined;
  readonly skipping: boolean;
}

/** Moves a tracked file on after a read. */
export function advance(files: readonly TrackedFile[], id: string, end: ReadEnd): TrackedFile[] {
  return files.map((f) => {
    if (f.id !== id) return f;
    return {
      id: f.id,
      name: f.name,
      head: f.head,
      offset: end.next,
      ...(end.date === undefined ? {} : { date: end.date }),
      ...(end.skipping ? { skipping: true as const } : {}),
    };
  });
}
