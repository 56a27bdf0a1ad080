import { randomBytes } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogSourceConfig } from '../../config/load.js';
import type { LogRecord } from '../../core/log-record.js';
import {
  decodeSourceCheckpoint,
  encodeSourceCheckpoint,
  type SourceCheckpoint,
} from '../../core/log-sources/checkpoint.js';
import { assembleRecords, splitLines, type Assembled } from '../../core/log-sources/lines.js';
import { compileLogPattern, resolveTime, type LinePattern } from '../../core/log-sources/pattern.js';
import {
  advance,
  globMatcher,
  HEAD_BYTES,
  planReads,
  type FileInfo,
  type ReadPlan,
  type TailEvent,
  type TrackedFile,
} from '../../core/log-sources/tail.js';
import { deadLetterMessage } from '../../core/dead-letter.js';
import type { OutgoingRecord, TopicMessages } from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import type { SourceWriter } from '../../ports/source-writer.js';
import type { SourceLease, SourceStore } from '../../ports/source-store.js';
import type { NodeMetrics } from '../../obs/metrics.js';

/** Bytes read from one file per poll at most; a longer backlog is read over several polls. */
const MAX_READ_BYTES = 1024 * 1024;

export interface FetcherOptions {
  readonly source: LogSourceConfig;
  readonly topics: { readonly logs: string; readonly dlq: string };
  readonly maxLineBytes: number;
  readonly maxReadBytes?: number;
}

export interface FetcherPorts {
  readonly store: SourceStore;
  readonly writer: SourceWriter;
  readonly lease: SourceLease;
  readonly logger: Logger;
  /** The wall clock that dates a time-of-day log line. */
  readonly now?: () => number;
  readonly metrics?: NodeMetrics;
}

export interface FetcherStats {
  lines: number;
  malformed: number;
  writes: number;
  /** Pending writes found on open that had committed (their lines were not read again). */
  pendingCommitted: number;
  pendingAborted: number;
}

/**
 * Tails the files of one log source and writes its lines to vigil.logs, exactly once: the I/O half of
 * a fetcher actor (the planning is core/logs/tail.ts, the parsing core/logs/pattern.ts and lines.ts).
 *
 * One poll: list the directory, plan the reads (new, appended, rotated, truncated files), read and
 * parse, then ONE transaction holding the lines (and the malformed ones for vigil.dlq) whose commit is
 * bracketed by the checkpoint: before it, the checkpoint records the write as pending with the
 * positions it reaches; after it, the positions themselves. `open()` settles a pending write left by a
 * crash by asking the log whether it committed. Both the checkpoint (the source's lease) and the
 * transaction (the source's transactional id) fence a node that lost the source.
 */
export class LogFetcher {
  readonly stats: FetcherStats = {
    lines: 0,
    malformed: 0,
    writes: 0,
    pendingCommitted: 0,
    pendingAborted: 0,
  };
  private files: TrackedFile[] = [];
  /** Each file's size at the previous poll (an unchanged size means its last record is complete). */
  private sizes = new Map<string, number>();
  private readonly pattern: LinePattern;
  private readonly matches: (name: string) => boolean;
  private listingFailed = false;

  constructor(
    private readonly o: FetcherOptions,
    private readonly p: FetcherPorts,
  ) {
    this.pattern = compileLogPattern(o.source.pattern);
    this.matches = globMatcher(o.source.glob);
  }

  get id(): string {
    return this.o.source.id;
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
      checkpoint = { v: 1, files: committed ? pending.files : checkpoint.files };
      await this.p.store.save(this.p.lease, encodeSourceCheckpoint(checkpoint));
    }
    this.files = [...checkpoint.files];
    this.p.logger.info({ files: this.files.map((f) => [f.name, f.offset]) }, 'log source opened');
  }

  /** One poll. `more` says a file has more bytes than one poll reads: poll again at once. */
  async poll(): Promise<{ lines: number; more: boolean }> {
    const listing = await this.list();
    if (listing === undefined) return { lines: 0, more: false };
    const plan = planReads(this.files, listing, {
      matches: this.matches,
      maxReadBytes: this.o.maxReadBytes ?? MAX_READ_BYTES,
      previousSizes: this.sizes,
    });
    for (const e of plan.events) this.report(e);
    let files = [...plan.files];
    const lines: OutgoingRecord[] = [];
    const dead: OutgoingRecord[] = [];
    let more = false;
    for (const read of plan.reads) {
      const chunk = await this.read(read);
      if (chunk === undefined) continue;
      const split = splitLines(chunk, read.from, { final: read.final, maxLineBytes: this.o.maxLineBytes });
      const { items, next } = assembleRecords(
        split.lines,
        this.pattern,
        { flushLast: read.final || read.idle, maxRecordChars: this.o.maxLineBytes },
        split.next,
      );
      for (const item of items) {
        if (item.kind === 'record') lines.push(this.lineMessage(item, read));
        else dead.push(this.deadMessage(item, read));
      }
      files = advance(files, read.id, next);
      const size = listing.find((f) => f.id === read.id)?.size ?? 0;
      if (read.to < size) more = true;
    }
    this.sizes = new Map(listing.map((f) => [f.id, f.size]));
    if (lines.length + dead.length > 0) await this.write(files, lines, dead);
    else if (!sameFiles(files, this.files))
      await this.p.store.save(this.p.lease, encodeSourceCheckpoint({ v: 1, files }));
    this.files = files;
    this.stats.lines += lines.length;
    this.stats.malformed += dead.length;
    const m = this.p.metrics;
    if (m !== undefined && lines.length + dead.length > 0) {
      m.logLines.inc({ source: this.id }, lines.length);
      if (dead.length > 0) m.deadLetters.inc({ source: 'file' }, dead.length);
    }
    return { lines: lines.length, more };
  }

  private async write(
    files: readonly TrackedFile[],
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
    const before = this.files;
    await this.p.writer.write(txn, keyTopic, batches, (placement) =>
      this.p.store.save(
        this.p.lease,
        encodeSourceCheckpoint({ v: 1, files: before, pending: { txn, ...placement, files } }),
      ),
    );
    await this.p.store.save(this.p.lease, encodeSourceCheckpoint({ v: 1, files }));
    this.stats.writes += 1;
  }

  private lineMessage(item: Extract<Assembled, { kind: 'record' }>, read: ReadPlan): OutgoingRecord {
    const { parsed } = item;
    const now = this.p.now?.() ?? Date.now();
    const record: LogRecord = {
      source: this.id,
      ts: resolveTime(parsed.time, now, this.o.source.utcOffsetMinutes),
      level: parsed.level,
      message: parsed.message,
      ...(parsed.thread === undefined ? {} : { thread: parsed.thread }),
      ...(parsed.logger === undefined ? {} : { logger: parsed.logger }),
      line: item.text,
      file: read.name,
      offset: item.start,
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

  /** The directory's regular files with their identity; undefined when it cannot be listed now. */
  private async list(): Promise<FileInfo[] | undefined> {
    const dir = this.o.source.dir;
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
    } catch (err) {
      // Not a reason to forget the files: a directory that is briefly away (a remount) comes back.
      if (!this.listingFailed)
        this.p.logger.warn({ err, dir }, 'cannot list the log directory; trying again at the next poll');
      this.listingFailed = true;
      return undefined;
    }
    this.listingFailed = false;
    const tracked = new Set(this.files.map((f) => f.id));
    const out: FileInfo[] = [];
    for (const name of names) {
      try {
        const s = await stat(join(dir, name));
        const id = fileId(s);
        const wanted = tracked.has(id) || this.matches(name);
        const head = wanted ? await readHead(join(dir, name), Math.min(s.size, HEAD_BYTES)) : '';
        out.push({ name, id, size: s.size, mtimeMs: s.mtimeMs, createdMs: s.birthtimeMs, head });
      } catch {
        // Gone between the listing and the stat (rotation in progress): the next poll sees it settled.
      }
    }
    return out;
  }

  /** The planned bytes, if the name still holds the same file (it may have been rotated since). */
  private async read(plan: ReadPlan): Promise<Buffer | undefined> {
    let handle;
    try {
      handle = await open(join(this.o.source.dir, plan.name), 'r');
    } catch {
      return undefined;
    }
    try {
      if (fileId(await handle.stat()) !== plan.id) return undefined;
      const buf = Buffer.allocUnsafe(plan.to - plan.from);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, plan.from + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buf.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    await this.p.writer.close();
  }
}

/** A file's identity: device, inode and birth time (an inode number is reused after a delete). */
function fileId(s: { dev: number; ino: number; birthtimeMs: number }): string {
  return `${s.dev}:${s.ino}:${Math.floor(s.birthtimeMs)}`;
}

async function readHead(path: string, n: number): Promise<string> {
  if (n === 0) return '';
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.toString('latin1', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

function sameFiles(a: readonly TrackedFile[], b: readonly TrackedFile[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => {
      const g = b[i];
      return (
        g !== undefined && f.id === g.id && f.offset === g.offset && f.name === g.name && f.head === g.head
      );
    })
  );
}
