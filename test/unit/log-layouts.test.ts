import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { LogRecord } from '../../src/core/log-record.js';
import type { WindowResult } from '../../src/core/outputs.js';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemorySourceStore } from '../../src/ports/memory-source-store.js';
import { MemorySourceWriter } from '../../src/ports/source-writer.js';
import { LogFetcher } from '../../src/transport/files/log-fetcher.js';
import { settled } from '../support/embedded.js';

/**
 * Logs written by programs in four layouts (test/fixtures/logs/), tailed by a fetcher and counted by the
 * engine. The expected counts per minute and level are taken from the files with regular expressions,
 * as grep and awk would: nothing of Vigil's parsing is used for them.
 */
const FIXTURES = new URL('../fixtures/logs/', import.meta.url).pathname;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const LEVEL: Record<string, string> = { FATAL: 'ERROR', CRITICAL: 'ERROR', WARNING: 'WARN' };
const minuteOf = (ts: number): string => new Date(ts).toISOString().slice(0, 16);

/** minute -> level -> lines, from (epoch ms, level) pairs. */
function buckets(lines: readonly (readonly [number, string])[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [ts, level] of lines) {
    const m = (out[minuteOf(ts)] ??= {});
    const l = LEVEL[level] ?? level;
    m[l] = (m[l] ?? 0) + 1;
  }
  return out;
}

/** The grep/awk view of each fixture: (epoch ms, level) of every record line. */
const EXPECTED: Record<string, () => [number, string][]> = {
  // Time of day only; the date is in the name (2021-10-17) and the file runs past midnight.
  'LogFileGenerator.2021-10-17.3.log': () => {
    let day = Date.UTC(2021, 9, 17);
    let last = -1;
    const out: [number, string][] = [];
    for (const line of readFileSync(join(FIXTURES, 'LogFileGenerator.2021-10-17.3.log'), 'utf8').split(
      /\r?\n/,
    )) {
      const m = /^\uFEFF?(\d\d):(\d\d):(\d\d)\.(\d{3}) \[[^\]]*\] (\w+) /.exec(line);
      if (m === null) continue;
      const tod = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
      if (tod < last) day += 86_400_000;
      last = tod;
      out.push([day + tod, m[5] ?? '']);
    }
    return out;
  },
  'log4j2.log': () =>
    grep('log4j2.log', /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{3}) \[[^\]]*\] (\w+) /, '.'),
  'python.log': () => grep('python.log', /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) - \S+ - (\w+) - /, '.'),
  'app.jsonl': () =>
    readFileSync(join(FIXTURES, 'app.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const r = JSON.parse(l) as { '@timestamp': string; level: string };
        return [Date.parse(r['@timestamp']), r.level];
      }),
};

function grep(file: string, re: RegExp, sep: string): [number, string][] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .flatMap((line): [number, string][] => {
      const m = re.exec(line);
      return m === null ? [] : [[Date.parse(`${m[1]}T${m[2]}${sep}${m[3]}Z`), m[4] ?? '']];
    });
}

const SOURCES: Record<string, Record<string, unknown>> = {
  'LogFileGenerator.2021-10-17.3.log': {
    glob: 'LogFileGenerator*.log',
    fileNamePattern: 'LogFileGenerator.%d{yyyy-MM-dd}.%i.log',
  },
  'log4j2.log': {
    layout: 'log4j2',
    pattern: '%d{yyyy-MM-dd HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n',
  },
  'python.log': { layout: 'python' },
  'app.jsonl': { layout: 'json', glob: '*.jsonl' },
};

describe('log layouts, through the fetcher and the engine', () => {
  it.each(Object.keys(SOURCES))(
    '%s: per minute and level, the engine counts what grep counts',
    async (file) => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-layouts-'));
      dirs.push(dir);
      copyFileSync(join(FIXTURES, file), join(dir, file));
      // A file dropped in long after it was written: its modification time is today.
      utimesSync(join(dir, file), new Date(), new Date());
      const config = buildConfig({
        node: { id: 'layouts' },
        log: { level: 'silent' },
        kafka: { partitions: { logs: 2 } },
        checkpoint: { interval: '50ms', store: 'memory' },
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        logs: { maxLineBytes: 4096, sources: [{ id: 'app', dir, ...SOURCES[file] }] },
      });
      const source = config.logs.sources[0];
      if (source === undefined) throw new Error('no source');
      const records = new MemoryRecordLog();
      let now = Date.now();
      const store = new MemorySourceStore();
      const lease = await store.acquire('app', 'node-1', 600_000);
      if (lease === undefined) throw new Error('no lease');
      const fetcher = new LogFetcher(
        {
          source,
          topics: { logs: config.kafka.topics.logs, dlq: config.kafka.topics.dlq },
          maxLineBytes: 4096,
          idleTimeoutMs: config.logs.idleTimeoutMs,
          multilineTimeoutMs: 0, // a record is complete once a poll finds its file unchanged
        },
        {
          store,
          writer: new MemorySourceWriter(records),
          lease,
          logger: silentLogger,
          now: () => now,
        },
      );
      // The engine alone: this test drives the fetcher itself (with its own clock).
      const node = await startEmbedded(
        { ...config, logs: { ...config.logs, sources: [] } },
        silentLogger,
        records,
      );
      await fetcher.open();
      for (let quiet = 0; quiet < 2;) quiet = (await fetcher.poll()).lines === 0 ? quiet + 1 : 0;
      // The file is finished: after the idle timeout its idle mark closes the last minute.
      now += config.logs.idleTimeoutMs;
      await fetcher.poll();
      expect(fetcher.stats.idleMarks).toBe(1);
      await settledLogs(records, config);
      await node.stop();

      const expected = buckets(EXPECTED[file]?.() ?? []);
      const lines = records
        .partitions(config.kafka.topics.logs)
        .flat()
        .filter((r) => r.headers['vigil-control'] === undefined)
        .map((r) => JSON.parse(r.value?.toString() ?? '') as LogRecord);
      expect(buckets(lines.map((r) => [r.ts, r.level]))).toEqual(expected);
      expect(records.partitions(config.kafka.topics.dlq).flat()).toEqual([]);
      // The 9,000-byte line of the logback file is counted, cut at logs.maxLineBytes with a note.
      const cut = lines.filter((r) => r.note !== undefined);
      expect(cut.map((r) => [r.level, (r.line ?? '').length <= 4096])).toEqual(
        file.startsWith('LogFileGenerator') ? [[cut[0]?.level, true]] : [],
      );
      // The engine's one-minute windows, the last one included (closed by the idle mark).
      const windows = records
        .partitions(config.kafka.topics.aggregates)
        .flat()
        .map((r) => JSON.parse(r.value?.toString() ?? '') as WindowResult)
        .filter((w) => w.window === 'tumbling-1m');
      const counted: Record<string, Record<string, number>> = {};
      for (const w of windows) (counted[minuteOf(w.start)] ??= {})[w.metric] = w.count;
      expect(counted).toEqual(expected);
      expect(Object.keys(expected).length).toBeGreaterThan(3);
    },
  );
});

/** Every partition of vigil.logs committed to its end by the engine. */
async function settledLogs(records: MemoryRecordLog, config: ReturnType<typeof buildConfig>): Promise<void> {
  await settled(records, {
    ...config,
    kafka: { ...config.kafka, topics: { ...config.kafka.topics, readings: config.kafka.topics.logs } },
  });
}
