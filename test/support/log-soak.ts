import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Alert, WindowResult } from '../../src/core/outputs.js';
import { Random } from '../../src/sim/random.js';
import { LogFileWriter, timeOfDay } from '../../src/sim/loggen.js';
import { prepareKafka } from './kafka-run.js';
import { collectUntil, header, json, uniquePrefix } from './kafka.js';
import { exited, startNodeProcess, waitForProgress, writeConfig } from './node-process.js';

/**
 * The log pipeline run for as long as asked, as a real deployment runs it: several sources appended to
 * over hundreds of polls, one rotating by rename, one by copy-truncate, a finished file with a past
 * date in its name, two node processes sharing the sources, and SIGKILLs in the middle. Then, per
 * source, minute and level, the engine's window results are compared with counts taken from the files
 * with regular expressions (grep and awk); every ERROR-heavy minute must have exactly one firing alert
 * carrying its ERROR lines, every other minute none.
 *
 * ERROR-heavy minutes never follow each other (a count rule's alert spans consecutive heavy windows),
 * so each heavy minute is an episode of its own. Copy-truncate waits for the fetcher to catch up
 * before it truncates: lines written between the copy and the truncation are lost to any tailer
 * (documented), and the test counts what the files hold.
 */
export interface SoakOptions {
  readonly durationMs: number;
  readonly seed: number;
  /** When to SIGKILL a node, as fractions of the duration (it restarts 3 s later). */
  readonly killsAt: readonly number[];
  /** Lines per second per live source. */
  readonly rate: number;
  readonly say: (line: string) => void;
}

export interface SoakResult {
  readonly lines: number;
  readonly minutes: number;
  readonly heavyMinutes: number;
  readonly rotations: number;
  readonly kills: number;
  /** Differences found; empty when the engine counted what the files hold. */
  readonly problems: string[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MINUTE = 60_000;
const DAY = 86_400_000;
const LINE = /^(\d\d):(\d\d):(\d\d)\.(\d{3}) \[[^\]]*\] (\w+) +\S+ - /;
const heavy = (minute: number): boolean => Math.floor(minute / MINUTE) % 3 === 0;

/**
 * A line of logback's default layout at `ts`, with quotes, a backslash and brackets; ERRORs (a share
 * `errors` of the lines) only in heavy minutes, some with a stack trace.
 */
function line(random: Random, ts: number, id: string, errors: number): string {
  const r = random.next();
  const level = heavy(ts) && r < errors ? 'ERROR' : r < 0.5 ? 'DEBUG' : r < 0.9 ? 'INFO' : 'WARN';
  const text = `${timeOfDay(ts)} [exec-${random.int(4)}] ${level.padEnd(5)} c.e.Shop - "order" \\ [${id}] id=${id}`;
  return level === 'ERROR' && random.next() < 0.3
    ? `${text}\njava.lang.IllegalStateException: x\n\tat c.e.Shop.run(Shop.java:1)`
    : text;
}

export async function logSoak(o: SoakOptions): Promise<SoakResult> {
  const prefix = uniquePrefix('soak');
  const dir = join(ROOT, '.run', 'test-logs', prefix);
  const dirs = { app: join(dir, 'app'), web: join(dir, 'web'), batch: join(dir, 'batch') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const started = Date.now();
  const pastDay = new Date(started - 2 * DAY).toISOString().slice(0, 10);
  await writeBatchFile(dirs.batch, pastDay, o.seed);
  const raw = {
    log: { level: 'info' },
    kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
    redis: { keyPrefix: prefix },
    checkpoint: { interval: '500ms' },
    pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
    logs: {
      pollInterval: '100ms',
      lease: '3s',
      sources: [
        { id: 'app', dir: dirs.app, glob: 'app.log' },
        { id: 'web', dir: dirs.web, glob: 'web.log' },
        { id: 'batch', dir: dirs.batch, glob: 'batch.*.log', fileNamePattern: 'batch.%d{yyyy-MM-dd}.%i.log' },
      ],
    },
  };
  const { config, kafka } = await prepareKafka(raw, []);
  const file = writeConfig(`${prefix}soak`, raw);
  const names = ['a', 'b'].map((n) => `${prefix}node-${n}`);
  const nodes = new Map<string, ChildProcess>(names.map((n) => [n, startNodeProcess(n, file)]));
  const run = { lines: 0, rotations: 0, kills: 0 };
  try {
    await writeLive(o, dirs, nodes, file, run);
    o.say(
      `    writing done: ${run.lines} lines, ${run.rotations} rotations, ${run.kills} kills; waiting for idle marks`,
    );
    // The sources go quiet: after logs.idleTimeout their idle marks close the last minutes.
    await sleep(config.logs.idleTimeoutMs + 5_000);
    await waitForProgress(
      kafka,
      config.kafka.groupId,
      config.kafka.topics.logs,
      (p) => p.committed >= p.end && p.end > 0,
      120_000,
    );
    const expected = await grepCounts(dirs, started, pastDay);
    const problems = await compareOutputs(kafka, config.kafka.topics, expected);
    return {
      lines: expected.lines,
      minutes: expected.minutes.size,
      heavyMinutes: [...expected.errors.keys()].length,
      rotations: run.rotations,
      kills: run.kills,
      problems,
    };
  } finally {
    for (const n of nodes.values()) n.kill('SIGTERM');
    await Promise.all([...nodes.values()].map(exited));
    await rm(dir, { recursive: true, force: true });
  }
}

/** A finished file of a past day: 20 minutes of lines, written before any node starts. */
async function writeBatchFile(dir: string, day: string, seed: number): Promise<void> {
  const random = new Random(seed + 1);
  const start = Date.parse(`${day}T22:50:00Z`);
  const lines: string[] = [];
  for (let ts = start, n = 0; ts < start + 20 * MINUTE; ts += 1_000 + random.int(2_000), n++)
    lines.push(line(random, ts, `batch-${n}`, 0.2));
  await writeFile(join(dir, `batch.${day}.0.log`), `${lines.join('\n')}\n`);
}

/** Appends to app and web at `rate`, rotates them, and kills nodes, until the duration is over. */
async function writeLive(
  o: SoakOptions,
  dirs: { app: string; web: string },
  nodes: Map<string, ChildProcess>,
  file: string,
  run: { lines: number; rotations: number; kills: number },
): Promise<void> {
  const random = new Random(o.seed);
  const app = new LogFileWriter(dirs.app, 'app.log', 1_000);
  const web = new LogFileWriter(dirs.web, 'web.log', 1_000);
  const start = Date.now();
  const kills = o.killsAt.map((f) => start + f * o.durationMs);
  let copies = 0;
  let nextRename = start + 15_000;
  let nextCopy = start + 20_000;
  const names = [...nodes.keys()];
  while (Date.now() - start < o.durationMs) {
    for (const w of [app, web]) {
      const text = Array.from({ length: Math.max(1, Math.round(o.rate / 10)) }, () =>
        line(random, Date.now(), `${w.file}-${run.lines++}`, 0.02),
      );
      await w.appendRaw(`${text.join('\n')}\n`);
    }
    if (Date.now() > nextRename) {
      await app.rotate();
      run.rotations++;
      nextRename += 15_000;
    }
    if (Date.now() > nextCopy) {
      await sleep(1_000); // logrotate's copytruncate races the tailer: let it catch up first
      await copyFile(web.path, `${web.path}.${++copies}`);
      await web.truncate();
      run.rotations++;
      nextCopy += 20_000;
    }
    const due = kills[0];
    if (due !== undefined && Date.now() > due) {
      kills.shift();
      const victim = names[run.kills % names.length] ?? '';
      nodes.get(victim)?.kill('SIGKILL');
      await exited(nodes.get(victim) as ChildProcess);
      run.kills++;
      o.say(`    SIGKILL ${victim}`);
      setTimeout(() => nodes.set(victim, startNodeProcess(victim, file)), 3_000);
    }
    await sleep(100);
  }
  await sleep(3_500); // a node killed last is started again
}

interface Expected {
  readonly lines: number;
  /** `source/minute/level` -> count */
  readonly counts: Map<string, number>;
  readonly minutes: Set<string>;
  /** `source/minute` of ERROR-heavy minutes -> the texts of their ERROR records */
  readonly errors: Map<string, Set<string>>;
}

/** Counts from the files themselves, as grep and awk would: record starts by a regular expression. */
async function grepCounts(
  dirs: Record<'app' | 'web' | 'batch', string>,
  started: number,
  pastDay: string,
): Promise<Expected> {
  const counts = new Map<string, number>();
  const minutes = new Set<string>();
  const errorTexts = new Map<string, Set<string>>();
  let lines = 0;
  const startTod = started % DAY;
  for (const [source, dir] of Object.entries(dirs)) {
    for (const name of await readdir(dir)) {
      const text = await readFile(join(dir, name), 'utf8');
      const records: { ts: number; level: string; text: string[] }[] = [];
      for (const l of text.split('\n')) {
        const m = LINE.exec(l);
        if (m === null) {
          if (l !== '') records.at(-1)?.text.push(l);
          continue;
        }
        const tod = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
        // Live lines were written from `started` on (within a day); the batch file's day is in its name.
        const day =
          source === 'batch' ? Date.parse(pastDay) : started - startTod + (tod >= startTod ? 0 : DAY);
        records.push({ ts: day + tod, level: m[5] ?? '', text: [l] });
      }
      for (const r of records) {
        lines++;
        const minute = `${source}/${Math.floor(r.ts / MINUTE) * MINUTE}`;
        minutes.add(minute);
        counts.set(`${minute}/${r.level}`, (counts.get(`${minute}/${r.level}`) ?? 0) + 1);
        if (r.level === 'ERROR')
          errorTexts.set(minute, (errorTexts.get(minute) ?? new Set()).add(r.text.join('\n')));
      }
    }
  }
  const errors = new Map([...errorTexts].filter(([, texts]) => texts.size > 1));
  return { lines, counts, minutes, errors };
}

/** What the engine produced, against the files: window counts, and one firing alert per heavy minute. */
async function compareOutputs(
  kafka: Parameters<typeof collectUntil>[0],
  topics: { readonly aggregates: string; readonly alerts: string },
  expected: Expected,
): Promise<string[]> {
  const records = await collectUntil(
    kafka,
    [topics.aggregates, topics.alerts],
    (rs) =>
      new Set(rs.filter((r) => r.topic === topics.aggregates).map((r) => header(r, 'vigil-id'))).size >=
      expected.counts.size,
    { timeoutMs: 60_000, settleMs: 3_000 },
  );
  const problems: string[] = [];
  const got = new Map<string, number>();
  for (const r of records.filter((x) => x.topic === topics.aggregates)) {
    const w = json(r) as WindowResult;
    if (w.window !== 'tumbling-1m') continue;
    const key = `${w.sensorId}/${w.start}/${w.metric}`;
    const before = got.get(key);
    if (before !== undefined && before !== w.count)
      problems.push(`${key}: two different results (${before}, ${w.count})`);
    got.set(key, w.count);
  }
  for (const [key, n] of expected.counts)
    if (got.get(key) !== n) problems.push(`${key}: engine ${String(got.get(key))}, files ${n}`);
  for (const [key, n] of got) if (!expected.counts.has(key)) problems.push(`${key}: engine ${n}, files none`);
  const firing = new Map<string, Set<string>>();
  const reports = new Map<string, readonly string[]>();
  for (const r of records.filter((x) => x.topic === topics.alerts)) {
    const a = json(r) as Alert;
    if (a.state !== 'firing' || a.report === undefined) continue;
    const minute = `${a.sensorId}/${a.report.start}`;
    firing.set(minute, (firing.get(minute) ?? new Set()).add(a.id));
    reports.set(minute, a.report.lines);
  }
  for (const [minute, texts] of expected.errors) {
    const ids = firing.get(minute)?.size ?? 0;
    if (ids !== 1) problems.push(`${minute}: ${ids} firing alert(s), expected 1`);
    const lines = new Set(reports.get(minute) ?? []);
    if (texts.size <= 100 && (lines.size !== texts.size || [...texts].some((t) => !lines.has(t))))
      problems.push(`${minute}: the alert's report does not carry the minute's ${texts.size} ERROR lines`);
  }
  for (const minute of firing.keys())
    if (!expected.errors.has(minute)) problems.push(`${minute}: an alert, but not ERROR-heavy`);
  return problems;
}
