import type { ConfigInput } from '../../src/config/load.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import type { Alert, RollupRecord, WindowResult } from '../../src/core/outputs.js';
import { restoreAccumulator } from '../../src/core/aggregate.js';
import { forEachRaw } from '../../src/core/raw-minutes.js';
import type { StateStore } from '../../src/ports/state-store.js';
import { CityStream } from '../../src/sim/stream.js';
import type { RefConfig, RefOutput } from './reference.js';

export const PARTITIONS = 6;
export const T0 = 1_795_000_000_000;

/** The pipeline of the acceptance tests, in config form (for Vigil) and in reference form. */
export function acceptancePipeline(): ConfigInput['pipeline'] {
  return {
    eventTime: { outOfOrderness: '2s', allowedLateness: '1s', idleTimeout: '30s' },
    dedupe: { horizon: '5m' },
    windows: [
      { kind: 'tumbling', size: '10s' },
      { kind: 'sliding', size: '30s', slide: '10s' },
      { kind: 'session', gap: '5s' },
    ],
    metrics: ['temperature', 'humidity', 'noise_level'],
    rules: [
      {
        id: 'temp-high',
        kind: 'threshold',
        metric: 'temperature',
        above: 30,
        hysteresis: 0.5,
        severity: 'critical',
      },
      { id: 'noise-outlier', kind: 'outlier', metric: 'noise_level', zScore: 4, mean: 50, stddev: 3 },
      {
        id: 'busy',
        kind: 'count',
        window: 'tumbling-10s',
        metric: 'temperature',
        above: 20,
        severity: 'info',
      },
      { id: 'silent', kind: 'silence', after: '20s' },
    ],
  };
}

export const REFERENCE_CONFIG: RefConfig = {
  partitions: PARTITIONS,
  outOfOrderness: 2_000,
  allowedLateness: 1_000,
  idleTimeout: 30_000,
  dedupeHorizon: 300_000,
  windows: [
    { kind: 'tumbling', name: 'tumbling-10s', size: 10_000 },
    { kind: 'sliding', name: 'sliding-30s-10s', size: 30_000, slide: 10_000 },
    { kind: 'session', name: 'session-5s', gap: 5_000 },
  ],
  rules: [
    {
      kind: 'threshold',
      id: 'temp-high',
      metric: 'temperature',
      above: 30,
      hysteresis: 0.5,
      severity: 'critical',
    },
    {
      kind: 'outlier',
      id: 'noise-outlier',
      metric: 'noise_level',
      zScore: 4,
      mean: 50,
      stddev: 3,
      severity: 'warning',
    },
    { kind: 'count', id: 'busy', window: 'tumbling-10s', metric: 'temperature', above: 20, severity: 'info' },
    { kind: 'silence', id: 'silent', after: 20_000, severity: 'warning' },
  ],
};

export interface InputRecord {
  readonly key: string;
  readonly value: string;
  /** Produced at once with the burst records right after it, whatever the load's rate. */
  readonly burst?: true;
}

/**
 * `count` seeded city readings (with repeats, out-of-order, late and malformed records), then one
 * sentinel reading per partition far in the future, so stream time moves on and every sensor's
 * windows close (idle timeout) and silence rules fire: the whole input then has a final answer.
 */
export function acceptanceInput(
  stations: number,
  count: number,
  seed: number,
  o: {
    /** Event time of the first reading (default T0, in the past) and readings per second of event time. */
    readonly startTs?: number;
    readonly rate?: number;
    /** The closing sentinels (default true); with clock records, stream time moves on without them. */
    readonly sentinels?: boolean;
  } = {},
): InputRecord[] {
  const stream = new CityStream({
    stations,
    seed,
    rate: o.rate ?? 2 * stations,
    startTs: o.startTs ?? T0,
    metrics: ['temperature', 'humidity', 'noise_level'],
    duplicateRatio: 0.01,
    outOfOrderRatio: 0.05,
    lateRatio: 0.005,
    malformedRatio: 0.005,
  });
  const records: InputRecord[] = [];
  for (let i = 0; i < count; i++) {
    const { key, value } = stream.next();
    records.push({ key, value });
  }
  if (o.sentinels === false) return records;
  const end = stream.clock + 600_000;
  const covered = new Set<number>();
  for (let i = 0; covered.size < PARTITIONS; i++) {
    const key = `zz-sentinel-${i}`;
    const p = partitionForKey(key, PARTITIONS);
    if (covered.has(p)) continue;
    covered.add(p);
    records.push({ key, value: JSON.stringify({ sensorId: key, ts: end, values: { humidity: 50 } }) });
  }
  return records;
}

/**
 * The records of a load with a quiet period: from record `at` on, every event time is `forMs` later
 * (the whole network sent nothing for that long; the load pauses as long).
 */
export function withQuietPeriod(records: readonly InputRecord[], at: number, forMs: number): InputRecord[] {
  return records.map((r, i) => {
    if (i < at) return r;
    try {
      const v = JSON.parse(r.value) as { ts?: unknown };
      if (typeof v.ts !== 'number') return r;
      return { ...r, value: JSON.stringify({ ...v, ts: v.ts + forMs }) };
    } catch {
      return r; // malformed: no time to shift
    }
  });
}

/** What the engine produced, gathered from wherever it went. */
export interface EngineOutput {
  readonly windows: readonly WindowResult[];
  readonly alerts: readonly Alert[];
  /** `${partition}:${offset}` of the source record */
  readonly late: readonly string[];
  readonly dlq: readonly string[];
  readonly rollups: readonly RollupRecord[];
  /** The raw readings kept of each rollup's minute, by `${sensorId}/${metric}/${minute}`. */
  readonly raw: ReadonlyMap<string, readonly number[]>;
}

/** The rollups of these sensors' metrics, and the raw readings kept of each rollup's minute. */
export async function readRollups(
  store: Pick<StateStore, 'rollups' | 'rawMinutes'>,
  sensors: Iterable<string>,
): Promise<Pick<EngineOutput, 'rollups' | 'raw'>> {
  const rollups: RollupRecord[] = [];
  const raw = new Map<string, number[]>();
  for (const sensor of sensors)
    for (const metric of ['temperature', 'humidity', 'noise_level']) {
      const found = await store.rollups(sensor, metric, 0, Number.MAX_SAFE_INTEGER);
      rollups.push(...found);
      const kept = await store.rawMinutes(
        sensor,
        metric,
        found.map((r) => r.minute),
      );
      for (const [minute, bytes] of kept) {
        const values: number[] = [];
        forEachRaw(minute, bytes, minute, minute + 60_000, (_ts, v) => values.push(v));
        raw.set(`${sensor}/${metric}/${minute}`, values);
      }
    }
  return { rollups, raw };
}

const close = (a: number | undefined, b: number, rel: number): boolean =>
  a !== undefined && Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/**
 * Differences between what the engine produced and the reference, as sentences (empty: equal).
 * Ids must match exactly (nothing lost, nothing extra); repeats of an id (from replays) must carry
 * identical content; counts, min, max, first and last must be exact; sums, means, standard
 * deviations and rates equal to 1e-9 relative; quantiles within the sketch's 1 % relative accuracy.
 */
export function compare(engine: EngineOutput, ref: RefOutput): string[] {
  const problems: string[] = [];
  const note = (p: string): void => {
    if (problems.length < 30) problems.push(p);
  };
  const unique = <T extends { id: string }>(items: readonly T[], what: string): Map<string, T> => {
    const m = new Map<string, T>();
    for (const item of items) {
      const seen = m.get(item.id);
      if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(item))
        note(`${what} ${item.id} was produced twice with different content`);
      m.set(item.id, item);
    }
    return m;
  };
  const windows = unique(engine.windows, 'window result');
  for (const id of ref.windows.keys()) if (!windows.has(id)) note(`missing window result ${id}`);
  for (const [id, w] of windows) {
    const r = ref.windows.get(id);
    if (r === undefined) {
      note(`unexpected window result ${id} (count ${w.count})`);
      continue;
    }
    const sorted = [...r.values].sort((a, b) => a - b);
    const n = sorted.length;
    const sum = r.values.reduce((a, b) => a + b, 0);
    const mean = sum / n;
    const sd = Math.sqrt(r.values.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    let first = r.timed[0] as [number, number];
    let last = first;
    for (const t of r.timed) {
      if (t[0] < first[0]) first = t;
      if (t[0] >= last[0]) last = t;
    }
    const exact: [string, number | undefined, number][] = [
      ['count', w.count, n],
      ['min', w.min, sorted[0] as number],
      ['max', w.max, sorted[n - 1] as number],
      ['first', w.first, first[1]],
      ['last', w.last, last[1]],
      ['start', w.start, r.start],
      ['end', w.end, r.end],
    ];
    for (const [k, got, want] of exact)
      if (got !== want) note(`${id}: ${k} is ${String(got)}, expected ${want}`);
    const approx: [string, number | undefined, number][] = [
      ['sum', w.sum, sum],
      ['mean', w.mean, mean],
      ['stddev', w.stddev, sd],
      ['rate', w.rate, n / ((r.end - r.start) / 1000)],
    ];
    for (const [k, got, want] of approx)
      if (!close(got, want, 1e-9)) note(`${id}: ${k} is ${String(got)}, expected ${want}`);
    for (const [k, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const want = exactQuantile(sorted, q);
      const got = w[k];
      if (got === undefined || Math.abs(got - want) > 0.01 * Math.abs(want) + 1e-9)
        note(`${id}: ${k} is ${String(got)}, exact ${want}`);
    }
  }
  const alerts = unique(engine.alerts, 'alert');
  for (const id of ref.alerts.keys())
    if (!alerts.has(id)) note(`missing alert ${id} (${JSON.stringify(ref.alerts.get(id))})`);
  for (const [id, a] of alerts) {
    const r = ref.alerts.get(id);
    if (r === undefined) note(`unexpected alert ${id} (${a.ruleId} ${a.state} ${a.sensorId} at ${a.ts})`);
    else if (
      a.state !== r.state ||
      a.ts !== r.ts ||
      a.startedAt !== r.startedAt ||
      a.value !== r.value ||
      a.ruleId !== r.ruleId
    ) {
      note(
        `alert ${id}: got ${JSON.stringify([a.state, a.ts, a.startedAt, a.value])}, expected ${JSON.stringify([r.state, r.ts, r.startedAt, r.value])}`,
      );
    }
  }
  const sets: [string, Set<string>, Set<string>][] = [
    ['late record', new Set(engine.late), ref.late],
    ['dead letter', new Set(engine.dlq), ref.dlq],
  ];
  for (const [what, got, want] of sets) {
    for (const k of want) if (!got.has(k)) note(`missing ${what} ${k}`);
    for (const k of got) if (!want.has(k)) note(`unexpected ${what} ${k}`);
  }
  const rollups = new Map(engine.rollups.map((r) => [`${r.sensorId}/${r.metric}/${r.minute}`, r]));
  for (const key of ref.rollups.keys()) if (!rollups.has(key)) note(`missing rollup ${key}`);
  for (const [key, r] of rollups) {
    const values = ref.rollups.get(key);
    if (values === undefined) {
      note(`unexpected rollup ${key}`);
      continue;
    }
    const acc = restoreAccumulator(r.acc);
    const sum = values.reduce((a, b) => a + b, 0);
    if (
      acc.count !== values.length ||
      acc.min !== Math.min(...values) ||
      acc.max !== Math.max(...values) ||
      !close(acc.sum, sum, 1e-9)
    ) {
      note(
        `rollup ${key}: count ${acc.count} min ${acc.min} max ${acc.max} sum ${acc.sum}; expected ${values.length} ${Math.min(...values)} ${Math.max(...values)} ${sum}`,
      );
    }
    // The raw readings kept of the minute are its readings, each exactly once.
    const sorted = (xs: readonly number[]): string => JSON.stringify([...xs].sort((a, b) => a - b));
    const kept = engine.raw.get(key);
    if (kept === undefined || sorted(kept) !== sorted(values))
      note(
        `raw readings of ${key}: ${kept === undefined ? 'none' : sorted(kept)}; expected ${sorted(values)}`,
      );
  }
  return problems;
}
