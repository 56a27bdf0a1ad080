/**
 * Shared parts of the benchmarks: the workload, progress lines, percentiles, process memory, and
 * waiting for a consumer group to reach the end of a topic. Benchmarks measure; they assert nothing.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Kafka } from 'kafkajs';
import { CityStream } from '../src/sim/stream.js';
import { connectRedis, type RedisConnection } from '../src/transport/redis/connection.js';
import { progress } from '../test/support/node-process.js';
import { ROOT } from '../test/support/chaos/cluster.js';

/** The metrics every benchmark reading carries. */
export const BENCH_METRICS = ['temperature', 'humidity', 'noise_level'] as const;

/**
 * The pipeline the benchmarks run: the default one of config/vigil.yaml (tumbling 10 s and sliding
 * 1 m / 10 s windows, the 12 aggregates with quantile sketches, its rules, per-minute rollups, a 5 min
 * dedupe horizon), over readings of three metrics.
 */
export function benchPipeline(): Record<string, unknown> {
  const file = parse(readFileSync(`${ROOT}/config/vigil.yaml`, 'utf8')) as {
    pipeline: Record<string, unknown>;
  };
  return { ...file.pipeline, metrics: [...BENCH_METRICS] };
}

/** `count` readings of `stations` stations, event time starting at `startTs`, `rate` per second of it. */
export function readings(
  stations: number,
  count: number,
  startTs: number,
  seed = 1,
): { key: string; value: string }[] {
  const stream = new CityStream({ stations, seed, rate: 2 * stations, startTs, metrics: [...BENCH_METRICS] });
  const out = new Array<{ key: string; value: string }>(count);
  for (let i = 0; i < count; i++) {
    const r = stream.next();
    out[i] = { key: r.key, value: r.value };
  }
  return out;
}

export type Say = (line: string) => void;

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** Resident memory of a process, MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the group has committed the whole topic; returns how many records were processed
 * between the first commit seen and the end, and how long that took, so start-up time is left out of
 * the rate. Checkpoints (and so commits) come every second: the rate is exact to about a second, so
 * a backlog needs many seconds of work to be measured (the quick mode's is not).
 */
export async function untilCommitted(
  kafka: Kafka,
  group: string,
  topic: string,
  say: Say,
  /** Records the topic will hold (when still being written): done only once they are all committed. */
  expected = 0,
  /** When the consumers were started: the fallback start when the first commit already covers it all. */
  since = Date.now(),
  timeoutMs = 600_000,
): Promise<{ records: number; seconds: number }> {
  const deadline = Date.now() + timeoutMs;
  let first: { at: number; committed: number } | undefined;
  let lastSay = 0;
  for (;;) {
    const p = await progress(kafka, group, topic);
    const now = Date.now();
    if (first === undefined && p.committed > 0) first = { at: now, committed: p.committed };
    if (now - lastSay >= 2_000) {
      lastSay = now;
      say(`    ${p.committed} of ${p.end} processed`);
    }
    if (p.end > 0 && p.end >= expected && p.committed >= p.end) {
      // A backlog done within one checkpoint interval leaves no first commit to time from: then the
      // time since the consumers started (start-up included) is all there is.
      const start = first === undefined || first.committed >= p.end ? { at: since, committed: 0 } : first;
      const seconds = Math.max(0.001, (now - start.at) / 1000);
      return { records: p.end - start.committed, seconds };
    }
    if (now > deadline) throw new Error(`not done in ${timeoutMs} ms: ${p.committed} of ${p.end}`);
    await sleep(200);
  }
}

/** A figure of the report: what was measured, its value, and what it is compared with. */
export interface Figure {
  readonly id: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Shown instead of value and unit (several percentiles, say). */
  readonly display?: string;
  /** The machine's own limit measured in the same run, or the goal, for comparison. */
  readonly against?: { readonly label: string; readonly value: number; readonly unit: string };
  /** A goal of the benchmark issue, and whether this run met it. */
  readonly goal?: { readonly text: string; readonly met: boolean };
  readonly note?: string;
}

export function fmt(n: number, unit: string): string {
  if (!Number.isFinite(n)) return 'n/a';
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return `${n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`;
}

/** The report as a Markdown table (docs/measurements.md holds the latest full run's). */
export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    f.display ?? fmt(f.value, f.unit),
    f.against === undefined ? '' : `${f.against.label}: ${fmt(f.against.value, f.against.unit)}`,
    f.goal === undefined ? '' : `${f.goal.met ? 'met' : 'not met'} (${f.goal.text})`,
  ]);
  const head = ['figure', 'value', 'compared with', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** docs/measurements.md: what `npm run bench` measured, written by it (never by hand). */
export function measurementsPage(r: {
  readonly at: string;
  readonly machine: string;
  readonly node: string;
  readonly command: string;
  readonly figures: readonly Figure[];
}): string {
  const notes = r.figures.filter((f) => f.note !== undefined).map((f) => `- ${f.name}: ${f.note ?? ''}`);
  return [
    '# Measurements',
    '',
    `Written by \`${r.command}\` on ${r.at.slice(0, 10)} (${r.at}); do not edit by hand: run it again.`,
    'How the figures are made, which goals they meet and why: [performance.md](performance.md).',
    '',
    `Machine: ${r.machine}. Node.js ${r.node}.`,
    '',
    table(r.figures),
    '',
    ...notes,
    '',
  ].join('\n');
}

/** Deletes a run's keys (all under its own prefix): nothing of a benchmark stays in Redis. */
export async function deleteKeys(redisConfig: RedisConnection, prefix: string): Promise<void> {
  const redis = connectRedis(redisConfig, {});
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
