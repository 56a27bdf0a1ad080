import { fileGlob } from '../../core/glob.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LogSourceConfig } from '../../config/load.js';
import { deadLetterMessage } from '../../core/dead-letter.js';
import { CONTROL_HEADER } from '../../core/router.js';
import { encodeIdleMark, IDLE_CONTROL, type LogRecord } from '../../core/log-record.js';
import {
  decodeSourceCheckpoint,
  encodeSourceCheckpoint,
  type IdleState,
  type SourceCheckpoint,
} from '../../core/log-sources/checkpoint.js';
import {
  compileFileNamePattern,
  placeLine,
  type DateCursor,
  type FileDating,
} from '../../core/log-sources/dates.js';
import { compileLayout } from '../../core/log-sources/layouts.js';
import {
  assembleRecords,
  splitLines,
  type Assembled,
  type AssembledRecord,
} from '../../core/log-sources/lines.js';
import type { LinePattern } from '../../core/log-sources/pattern.js';
import {
  advance,
  nextSizes,
  planReads,
  type FileSize,
  type FileInfo,
  type ReadPlan,
  type TailEvent,
  type TrackedFile,
} from '../../core/log-sources/tail.js';
import { parseTimeZone, type TimeZone } from '../../core/log-sources/zone.js';
import type { Logger } from '../../obs/logger.js';
import type { NodeMetrics } from '../../obs/metrics.js';
import type { OutgoingRecord, TopicMessages } from '../../ports/record-log.js';
import type { SourceLease, SourceStore } from '../../ports/source-store.js';
import type { SourceWriter } from '../../ports/source-writer.js';
import { listFiles, readPlanned } from './log-files.js';

/** logs.multilineTimeout's default, as Filebeat's multiline.timeout. */
const DEFAULT_MULTILINE_TIMEOUT_MS = 5_000;

/** Bytes read from one file per poll at most; a longer backlog is read over several polls. */
const MAX_READ_BYTES = 1024 * 1024;

export interface FetcherOptions {
  readonly source: LogSourceConfig;
  readonly topics: { readonly logs: string; readonly dlq: string };
  readonly maxLineBytes: number;
  readonly maxReadBytes?: number;
  /** Wall clock without a new line after which the source's idle mark is written (logs.idleTimeout). */
  readonly idleTimeoutMs?: number;
  /** A record's continuation lines written within this of its last line join it (logs.multilineTimeout). */
  readonly multilineTimeoutMs?: number;
}

export interface FetcherPorts {
  readonly store: SourceStore;
  readonly writer: SourceWriter;
  readonly lease: SourceLease;
  readonly logger: Logger;
  /** The wall clock: idleness, and the date of lines with no time. */
  readonly now?: () => number;
  readonly metrics?: NodeMetrics;
}

export interface FetcherStats {
  lines: number;
  malformed: number;
  writes: number;
  /** Idle marks written (the source went quiet: its windows close). */
  idleMarks: number;
  /** Pending writes found on open that had committed (their lines were not read again). */
  pendingCommitted: number;
  pendingAborted: number;
}

/** What one poll read: lines for vigil.logs, dead letters, and where the files and the source stand. */
interface PollRead {
  readonly lines: OutgoingRecord[];
  readonly dead: OutgoingRecord[];
  readonly files: TrackedFile[];
  /** Event time of the last line read, if any. */
  readonly lastTs: number | undefined;
  readonly more: boolean;
}

/**
 * Tails the files of one log source and writes its lines to vigil.logs, exactly once: the I/O half of
 * a fetcher actor (planning: core/log-sources/tail.ts; parsing: layouts.ts, pattern.ts, lines.ts;
 * dates: dates.ts).
 *
 * One poll: list the directory, plan the reads (new, appended, rotated, truncated files), read and
 * parse, then ONE transaction holding the lines (and the malformed ones for vigil.dlq) whose commit is
 * bracketed by the checkpoint: before it, the checkpoint records the write as pending with the
 * positions it reaches; after it, the positions themselves. `open()` settles a pending write left by a
 * crash by asking the log whether it committed. Both the checkpoint (the source's lease) and the
 * transaction (the source's transactional id) fence a node that lost the source.
 *
 * Idle marks: when nothing new was read for `idleTimeout` of wall clock after a line, a poll writes the
 * source's idle mark instead (core/log-record.ts, IdleMark), the same way: the engine then closes the
 * source's windows, so a finished file reports its last minute.
 */
export class LogFetcher {
  readonly stats: FetcherStats = {
    lines: 0,
    malformed: 0,
    writes: 0,
    idleMarks: 0,
    pendingCommitted: 0,
    pendingAborted: 0,
  };
  private files: TrackedFile[] = [];
  private idle: IdleState | undefined;
  /** Wall clock of the last line read (or of opening). */
  private lastLineAt = 0;
  /** Each file's size, and since when it has had it (tail.ts: when its last record is complete). */
  private sizes = new Map<string, FileSize>();
  private readonly pattern: LinePattern;
  private readonly matches: (name: string) => boolean;
  private readonly nameDay: (name: string) => number | undefined;
  private readonly zone: TimeZone;
  private listingFailed = false;
  /** The last record of the last poll, held back for more continuation lines (not yet written). */
  private held: { read: ReadPlan; item: AssembledRecord; ts: number } | undefined;

  constructor(
    private readonly o: FetcherOptions,
    private readonly p: FetcherPorts,
  ) {
    const s = o.source;
    this.pattern = compileLayout({
      layout: s.layout,
      pattern: s.pattern,
      dateFormat: s.dateFormat,
      json: s.json,
    });
    this.matches = fileGlob(s.glob);
    const fromName = s.fileNamePattern === undefined ? undefined : compileFileNamePattern(s.fileNamePattern);
    this.nameDay = (name) => (s.dateFrom === 'name' ? fromName?.(name) : undefined);
    this.zone = parseTimeZone(s.timezone) ?? parseTimeZone('UTC') ?? { name: 'UTC', offsetAt: () => 0 };
  }

  get id(): string {
    return this.o.source.id;
  }

  private now(): number {
    return this.p.now?.() ?? Date.now();
  }

  /** Fences earlier owners, then restores the position, settling a write a crash left pending. */
  async open(): Promise<void> {
    await this.p.writer.open();
    const bytes = await this.p.store.load(this.id);
    let checkpoint: SourceCheckpoint =
      bytes === undefined ? { v: 1, files: [] } : decodeSourceCheckpoint(bytes);
    const pending = checkpoint.pending;
    if (pending !== undefined) {
      const committed = await this.p.writer.committed(pending.txn, pending, this.id);
      if (committed) this.stats.pendingCommitted += 1;
      else this.stats.pendingAborted += 1;
      this.p.logger.info(
        { txn: pending.txn, committed },
        committed
          ? 'a write left pending by the last owner had committed: going on after it'
          : 'a write left pending by the last owner had not committed: reading its lines again',
      );
      const settled = committed ? pending : checkpoint;
      checkpoint = {
        v: 1,
        files: settled.files,
        ...(settled.idle === undefined ? {} : { idle: settled.idle }),
      };
      await this.p.store.save(this.p.lease, encodeSourceCheckpoint(checkpoint));
    }
    this.files = [...checkpoint.files];
    this.idle = checkpoint.idle;
    this.lastLineAt = this.now();
    this.p.logger.info({ files: this.files.map((f) => [f.name, f.offset]) }, 'log source opened');
  }

  /** One poll. `more` says a file has more bytes than one poll reads: poll again at once. */
  async poll(): Promise<{ lines: number; more: boolean }> {
    let listing: FileInfo[];
    try {
      const tracked = new Set(this.files.map((f) => f.id));
      listing = await listFiles(this.o.source.dir, (name, id) => tracked.has(id) || this.matches(name));
      this.listingFailed = false;
    } catch (err) {
      // Not a reason to forget the files: a directory that is briefly away (a remount) comes back.
      if (!this.listingFailed)
        this.p.logger.warn({ err, dir: this.o.source.dir }, 'cannot list the log directory; trying again');
      this.listingFailed = true;
      return { lines: 0, more: false };
    }
    const read = await this.readAll(listing);
    this.sizes = nextSizes(listing, this.sizes, this.now());
    const idle = read.lastTs === undefined ? this.idle : { lastTs: read.lastTs, marked: false };
    if (read.lines.length + read.dead.length > 0) await this.write(read.files, idle, read.lines, read.dead);
    else if (!(await this.markIdle(read.files)) && !sameFiles(read.files, this.files))
      await this.save(read.files, this.idle);
    this.files = read.files;
    if (read.lastTs !== undefined) {
      this.idle = idle;
      this.lastLineAt = this.now();
    }
    this.count(read);
    return { lines: read.lines.length, more: read.more };
  }

  /** Reads and parses what the plan says, file by file. */
  private async readAll(listing: readonly FileInfo[]): Promise<PollRead> {
    const plan = planReads(this.files, listing, {
      matches: this.matches,
      maxReadBytes: this.o.maxReadBytes ?? MAX_READ_BYTES,
      sizes: this.sizes,
      now: this.now(),
      multilineTimeoutMs: this.o.multilineTimeoutMs ?? DEFAULT_MULTILINE_TIMEOUT_MS,
    });
    for (const e of plan.events) this.report(e);
    let files = [...plan.files];
    const lines: OutgoingRecord[] = [];
    const dead: OutgoingRecord[] = [];
    let lastTs: number | undefined;
    let more = false;
    // A record held back for its continuation lines whose file was then truncated (copytruncate) or
    // deleted: its bytes are gone from the file, so it goes out as it was read.
    const held = this.held;
    this.held = undefined;
    if (
      held !== undefined &&
      plan.events.some((e) => (e.kind === 'truncated' || e.kind === 'deleted') && e.id === held.read.id)
    ) {
      lines.push(this.lineMessage(held.item, held.read, held.ts));
      lastTs = held.ts;
    }
    for (const read of plan.reads) {
      const chunk = await readPlanned(this.o.source.dir, read);
      if (chunk === undefined) continue;
      const info = listing.find((f) => f.id === read.id);
      const file = files.find((f) => f.id === read.id);
      const split = splitLines(chunk, read.from, {
        final: read.final,
        maxLineBytes: this.o.maxLineBytes,
        skipping: file?.skipping === true,
      });
      const flushLast = read.final || read.idle;
      const assembled = assembleRecords(
        split.lines,
        this.pattern,
        { flushLast, maxRecordChars: this.o.maxLineBytes },
        split.next,
      );
      const dating: FileDating = {
        nameDay: this.nameDay(read.name),
        mtimeMs: info?.mtimeMs ?? this.now(),
        zone: this.zone,
        readAt: this.now(),
      };
      let date = file?.date;
      for (const item of assembled.items) {
        if (item.kind === 'malformed') {
          dead.push(this.deadMessage(item, read));
          continue;
        }
        const placed = placeLine(item.parsed, date, dating);
        date = placed.cursor;
        lastTs = Math.max(lastTs ?? placed.ts, placed.ts);
        lines.push(this.lineMessage(item, read, placed.ts));
      }
      if (assembled.held !== undefined)
        this.held = { read, item: assembled.held, ts: placeLine(assembled.held.parsed, date, dating).ts };
      const skipping = split.skipping === true && !assembled.heldBack;
      files = advance(files, read.id, { next: assembled.next, date, skipping });
      if (read.to < (info?.size ?? 0)) more = true;
    }
    return { lines, dead, files, lastTs, more };
  }

  /**
   * Writes the source's idle mark if it is due: a line was written, none since, and `idleTimeout` of
   * wall clock has passed. Its event time is the last line's plus the idle time that passed. True when
   * it wrote one (with the files' positions in its checkpoint).
   */
  private async markIdle(files: readonly TrackedFile[]): Promise<boolean> {
    const timeout = this.o.idleTimeoutMs;
    const idle = this.idle;
    if (timeout === undefined || idle === undefined || idle.marked) return false;
    const quiet = this.now() - this.lastLineAt;
    if (quiet < timeout) return false;
    const mark: OutgoingRecord = {
      key: this.id,
      value: encodeIdleMark({ source: this.id, idleAt: idle.lastTs + quiet }),
      headers: { [CONTROL_HEADER]: IDLE_CONTROL },
    };
    const marked = { ...idle, marked: true };
    await this.write(files, marked, [mark], []);
    this.idle = marked;
    this.stats.idleMarks += 1;
    this.p.logger.info({ idleAt: idle.lastTs + quiet }, 'log source idle: its windows close');
    return true;
  }

  private save(files: readonly TrackedFile[], idle: IdleState | undefined): Promise<void> {
    return this.p.store.save(
      this.p.lease,
      encodeSourceCheckpoint({ v: 1, files, ...(idle === undefined ? {} : { idle }) }),
    );
  }

  private async write(
    files: readonly TrackedFile[],
    idle: IdleState | undefined,
    lines: OutgoingRecord[],
    dead: OutgoingRecord[],
  ): Promise<void> {
    const txn = randomBytes(8).toString('hex');
    const batches: TopicMessages[] = [];
    // The write is placed by its first record keyed by this source: a line on vigil.logs, or (a poll
    // with malformed lines only) a dead letter on vigil.dlq.
    if (lines.length > 0) batches.push({ topic: this.o.topics.logs, messages: lines });
    if (dead.length > 0) batches.push({ topic: this.o.topics.dlq, messages: dead });
    const keyTopic = lines.length > 0 ? this.o.topics.logs : this.o.topics.dlq;
    const before: SourceCheckpoint = {
      v: 1,
      files: this.files,
      ...(this.idle === undefined ? {} : { idle: this.idle }),
    };
    await this.p.writer.write(txn, keyTopic, batches, (placement) =>
      this.p.store.save(
        this.p.lease,
        encodeSourceCheckpoint({
          ...before,
          pending: { txn, ...placement, files, ...(idle === undefined ? {} : { idle }) },
        }),
      ),
    );
    await this.save(files, idle);
    this.stats.writes += 1;
  }

  private count(read: PollRead): void {
    this.stats.lines += read.lines.length;
    this.stats.malformed += read.dead.length;
    const m = this.p.metrics;
    if (m !== undefined && read.lines.length + read.dead.length > 0) {
      m.logLines.inc({ source: this.id }, read.lines.length);
      if (read.dead.length > 0) m.deadLetters.inc({ source: 'file' }, read.dead.length);
    }
  }

  private lineMessage(
    item: Extract<Assembled, { kind: 'record' }>,
    read: ReadPlan,
    ts: number,
  ): OutgoingRecord {
    const { parsed } = item;
    const record: LogRecord = {
      source: this.id,
      ts,
      level: parsed.level,
      message: parsed.message,
      ...(parsed.thread === undefined ? {} : { thread: parsed.thread }),
      ...(parsed.logger === undefined ? {} : { logger: parsed.logger }),
      line: item.text,
      file: read.name,
      offset: item.start,
      ...(item.note === undefined ? {} : { note: item.note }),
    };
    return {
      key: this.id,
      value: JSON.stringify(record),
      headers: { 'vigil-line-id': `${this.id}:${read.id}:${item.start}` },
    };
  }

  private deadMessage(item: Extract<Assembled, { kind: 'malformed' }>, read: ReadPlan): OutgoingRecord {
    return deadLetterMessage({
      source: {
        topic: `file:${join(this.o.source.dir, read.name)}`,
        partition: 0,
        offset: String(item.start),
      },
      key: Buffer.from(this.id),
      payload: Buffer.from(item.text),
      reason: item.reason,
    });
  }

  private report(e: TailEvent): void {
    const log = this.p.logger;
    switch (e.kind) {
      case 'new':
        log.info({ file: e.name }, 'new log file');
        break;
      case 'rotated':
        log.info({ file: e.name, was: e.from }, 'log file rotated: finishing it under its new name');
        break;
      case 'truncated':
        log.warn({ file: e.name, offset: e.offset }, 'log file truncated: reading it again from its start');
        break;
      case 'finished':
        log.info({ file: e.name }, 'rotated log file finished');
        break;
      case 'deleted':
        log.info({ file: e.name }, 'log file deleted');
        break;
    }
  }

  async close(): Promise<void> {
    await this.p.writer.close();
  }
}

const sameDate = (a: DateCursor | undefined, b: DateCursor | undefined): boolean =>
  a?.day === b?.day && a?.tod === b?.tod;

function sameFiles(a: readonly TrackedFile[], b: readonly TrackedFile[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => {
      const g = b[i];
      return (
        g !== undefined &&
        f.id === g.id &&
        f.offset === g.offset &&
        f.name === g.name &&
        f.head === g.head &&
        f.skipping === g.skipping &&
        sameDate(f.date, g.date)
      );
    })
  );
}
