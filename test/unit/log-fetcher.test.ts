import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_PATTERN } from '../../src/core/log-sources/layouts.js';
import type { LogRecord } from '../../src/core/log-record.js';
import { LogFetcher } from '../../src/transport/files/log-fetcher.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemorySourceWriter, type Placement, type SourceWriter } from '../../src/ports/source-writer.js';
import type { TopicMessages } from '../../src/ports/record-log.js';
import { silentLogger } from '../../src/obs/logger.js';
import { LogFileWriter, LogLineGenerator } from '../../src/sim/loggen.js';
import { MemorySourceStore } from '../../src/ports/memory-source-store.js';
import type { SourceLease, SourceStore } from '../../src/ports/source-store.js';

const TOPICS = { logs: 'vigil.logs', dlq: 'vigil.dlq' };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fetch-'));
  dirs.push(dir);
  const log = new MemoryRecordLog();
  log.createTopic(TOPICS.logs, 3);
  log.createTopic(TOPICS.dlq, 1);
  const store = new MemorySourceStore();
  const writer = new LogFileWriter(dir);
  const gen = new LogLineGenerator({ errorRatio: 0.1, seed: 3, run: 'r', stackTraceRatio: 0.3 });
  return { dir, log, store, writer, gen };
}

type Setup = ReturnType<typeof setup>;

async function fetcher(
  s: Setup,
  lease: SourceLease,
  sourceLog?: SourceWriter,
  store?: SourceStore,
  clock?: { now: () => number; multilineTimeoutMs: number },
): Promise<LogFetcher> {
  const f = new LogFetcher(
    {
      source: {
        id: 'app',
        dir: s.dir,
        glob: '*.log',
        layout: 'logback',
        pattern: DEFAULT_LOG_PATTERN,
        timezone: 'UTC',
        dateFrom: 'name',
      },
      topics: TOPICS,
      maxLineBytes: 4096,
      maxReadBytes: 700,
      // 0: a record is complete at the first poll that finds its file unchanged (these tests poll
      // until two polls find nothing; the timeout itself has a test of its own below).
      multilineTimeoutMs: clock?.multilineTimeoutMs ?? 0,
    },
    {
      store: store ?? s.store,
      writer: sourceLog ?? new MemorySourceWriter(s.log),
      lease,
      logger: silentLogger,
      ...(clock === undefined ? {} : { now: clock.now }),
    },
  );
  await f.open();
  return f;
}

/** Polls until a poll finds nothing new twice in a row (the last record waits one idle poll). */
async function drain(f: LogFetcher): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    const r = await f.poll();
    quiet = r.lines === 0 && !r.more ? quiet + 1 : 0;
  }
}

/** Line ids (`id=r-<n>`) on vigil.logs, in log order, and the records themselves. */
function delivered(log: MemoryRecordLog): { ids: string[]; records: LogRecord[] } {
  const records = log
    .partitions(TOPICS.logs)
    .flat()
    .map((r) => JSON.parse(r.value?.toString() ?? '') as LogRecord);
  return { ids: records.map((r) => /id=(\S+)/.exec(r.message)?.[1] ?? '?'), records };
}

async function lease(store: SourceStore, owner = 'node-1'): Promise<SourceLease> {
  const l = await store.acquire('app', owner, 60_000);
  if (l === undefined) throw new Error('source is held');
  return l;
}

describe('LogFetcher (memory ports, real files)', () => {
  it('delivers every line once across appends, partial lines, rotation and truncation', async () => {
    const s = setup();
    await s.writer.init();
    const f = await fetcher(s, await lease(s.store));
    const written: string[] = [];
    const ts = Date.UTC(2026, 10, 23, 9, 0, 0);
    const write = async (n: number) => {
      const lines = Array.from({ length: n }, (_, i) => s.gen.next(ts + i));
      written.push(...lines.map((l) => l.id));
      await s.writer.append(lines);
    };
    await write(30);
    await f.poll();
    // A line written in two halves is read once, whole.
    const half = s.gen.next(ts);
    written.push(half.id);
    await s.writer.appendRaw(half.text.slice(0, 20));
    await drain(f);
    await s.writer.appendRaw(`${half.text.slice(20)}\n`);
    await write(25);
    await f.poll();
    // Rotation: the renamed file is finished, then the new one read.
    await write(10);
    await s.writer.rotate();
    await write(40);
    await drain(f);
    // Truncation (copytruncate) after everything was read: the file starts over.
    await s.writer.truncate();
    await write(15);
    await drain(f);
    const { ids, records } = delivered(s.log);
    expect(ids).toEqual(written);
    expect(new Set(ids).size).toBe(written.length);
    expect(records.every((r) => r.source === 'app' && r.ts > 0)).toBe(true);
    expect(records.some((r) => r.message.includes('\tat c.e.App.run'))).toBe(true);
    expect(s.log.partitions(TOPICS.dlq).flat()).toHaveLength(0);
  });

  it('sends malformed lines to the dead-letter topic with their reason', async () => {
    const s = setup();
    await s.writer.init();
    await s.writer.appendRaw('not a log line\n');
    await s.writer.append([s.gen.next(Date.now())]);
    const f = await fetcher(s, await lease(s.store));
    await drain(f);
    const dead = s.log.partitions(TOPICS.dlq).flat();
    expect(dead.map((r) => [r.value?.toString(), String(r.headers['vigil-reason'])])).toEqual([
      [
        'not a log line',
        `line does not match the log pattern "${DEFAULT_LOG_PATTERN}" and follows no record`,
      ],
    ]);
    expect(String(dead[0]?.headers['vigil-source-topic'])).toBe(`file:${join(s.dir, 'app.log')}`);
    expect(delivered(s.log).ids).toHaveLength(1);
  });

  it('a stack trace flushed in two writes 3 s apart is one record (logs.multilineTimeout)', async () => {
    const s = setup();
    await s.writer.init();
    let now = 1_000_000;
    const f = await fetcher(s, await lease(s.store), undefined, undefined, {
      now: () => now,
      multilineTimeoutMs: 5_000,
    });
    const head = '15:12:00.123 [main] ERROR com.example.Billing - payment failed\n';
    const top =
      'java.lang.IllegalStateException: card declined\n\tat com.example.Billing.charge(Billing.java:42)\n';
    const rest =
      '\tat com.example.Api.handle(Api.java:17)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)\n';
    await s.writer.appendRaw(head + top);
    for (let t = 0; t <= 3_000; t += 250) {
      now = 1_000_000 + t;
      await f.poll(); // the first half waits: its file has not been quiet for 5 s
    }
    expect(delivered(s.log).records).toHaveLength(0);
    await s.writer.appendRaw(rest);
    for (let t = 3_250; t <= 9_000; t += 250) {
      now = 1_000_000 + t;
      await f.poll();
    }
    const { records } = delivered(s.log);
    expect(records).toHaveLength(1);
    expect(records[0]?.line).toBe((head + top + rest).trimEnd());
    expect(s.log.partitions(TOPICS.dlq).flat()).toHaveLength(0);
    // Later than the timeout, a continuation follows no record: a dead letter with why, never lost.
    now += 60_000;
    await s.writer.appendRaw('\tat com.example.Late.call(Late.java:1)\n');
    now += 6_000;
    await f.poll();
    now += 6_000;
    await f.poll();
    const dead = s.log.partitions(TOPICS.dlq).flat();
    expect(dead.map((r) => String(r.headers['vigil-reason']))).toEqual([
      `line does not match the log pattern "${DEFAULT_LOG_PATTERN}" and follows no record`,
    ]);
  });

  it('a record held for its continuation lines still goes out when its file is truncated (copytruncate)', async () => {
    const s = setup();
    await s.writer.init();
    let now = 1_000_000;
    const f = await fetcher(s, await lease(s.store), undefined, undefined, {
      now: () => now,
      multilineTimeoutMs: 5_000,
    });
    const before = s.gen.next(Date.now());
    await s.writer.append([before]);
    await f.poll();
    now += 1_000;
    await f.poll(); // held: the file has been quiet for 1 s only
    expect(delivered(s.log).records).toHaveLength(0);
    await s.writer.truncate(); // logrotate copied the file elsewhere and emptied it
    const after = s.gen.next(Date.now());
    await s.writer.append([after]);
    for (let i = 0; i < 4; i++) {
      now += 3_000;
      await f.poll();
    }
    expect(delivered(s.log).ids).toEqual([before.id, after.id]);
  });

  it('a crash before the commit reads the lines again; one after it does not repeat them', async () => {
    const s = setup();
    await s.writer.init();
    const written: string[] = [];
    const write = async (n: number) => {
      const lines = Array.from({ length: n }, () => s.gen.next(Date.now()));
      written.push(...lines.map((l) => l.id));
      await s.writer.append(lines);
    };
    // 1. The write fails after the pending checkpoint, before the commit: nothing is visible.
    const failing: SourceWriter = {
      open: () => Promise.resolve(),
      close: () => Promise.resolve(),
      committed: (txn: string, p: Placement) => new MemorySourceWriter(s.log).committed(txn, p),
      write: async (
        _txn: string,
        _key: string,
        _b: readonly TopicMessages[],
        before: (p: Placement) => Promise<void>,
      ) => {
        await before({ topic: TOPICS.logs, partition: s.log.partitionOf(TOPICS.logs, 'app'), offset: '0' });
        throw new Error('killed before the commit');
      },
    };
    await write(20);
    // The same lease throughout: a fetcher reset on its own node takes this path as a new owner does.
    const held = await lease(s.store);
    const first = await fetcher(s, held, failing);
    await expect(first.poll()).rejects.toThrow('killed before the commit');
    // 2. The next fetcher finds the write pending, learns it never committed, and reads the lines.
    // 3. This one commits, then dies before the checkpoint after the commit.
    let saves = 0;
    const dying: SourceStore = {
      acquire: (a, b, c) => s.store.acquire(a, b, c),
      renew: (a, b) => s.store.renew(a, b),
      release: (a) => s.store.release(a),
      owner: (a) => s.store.owner(a),
      load: (a) => s.store.load(a),
      close: () => s.store.close(),
      save: async (l, cp) => {
        saves += 1;
        if (saves === 3) throw new Error('killed after the commit');
        await s.store.save(l, cp);
      },
    };
    const second = await fetcher(s, held, undefined, dying);
    expect(second.stats.pendingAborted).toBe(1);
    await expect(drain(second)).rejects.toThrow('killed after the commit');
    await write(5);
    // 4. The third owner finds that write pending and committed: it goes on after it.
    const third = await fetcher(s, held);
    expect(third.stats.pendingCommitted).toBe(1);
    await drain(third);
    expect(delivered(s.log).ids).toEqual(written);
  });

  it('a node that lost the lease cannot move the position', async () => {
    const s = setup();
    await s.writer.init();
    await s.writer.append([s.gen.next(Date.now())]);
    const old = await s.store.acquire('app', 'node-1', 50);
    if (old === undefined) throw new Error('no lease');
    const f = await fetcher(s, old);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await s.store.acquire('app', 'node-2', 60_000);
    await expect(drain(f)).rejects.toThrow('no longer held');
  });
});
