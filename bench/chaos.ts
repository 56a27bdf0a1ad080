/**
 * A long fault campaign on the real stack, with its table (README, "Fault campaigns").
 *
 *   npm run chaos -- [--nodes 3] [--kills 20] [--zombies 0] [--drains 0] [--crashes 0]
 *                    [--redis-restarts 0] [--broker-restarts 0] [--link-cuts 0]
 *                    [--rate 400] [--stations 300] [--seed 1] [--session-timeout 3000]
 *                    [--hostile <n>: n records of each hostile input class mixed into the load]
 *                    [--burst <n>: a burst of n new sensors, produced at once]
 *                    [--duration <s>: the load lasts at least this long; it always outlasts the faults]
 *
 * Needs the stack (cluster/services.sh, cluster/kafka/start.sh) and a build (npm run build).
 * Prints each fault as it happens, then the table; writes the figures as JSON to .run/chaos-<seed>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCampaign } from '../test/support/chaos/campaign.js';
import { ROOT } from '../test/support/chaos/cluster.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    kills: { type: 'string', default: '20' },
    zombies: { type: 'string', default: '0' },
    drains: { type: 'string', default: '0' },
    crashes: { type: 'string', default: '0' },
    'redis-restarts': { type: 'string', default: '0' },
    'broker-restarts': { type: 'string', default: '0' },
    'link-cuts': { type: 'string', default: '0' },
    rate: { type: 'string', default: '400' },
    stations: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '0' },
    'session-timeout': { type: 'string', default: '3000' },
    hostile: { type: 'string', default: '0' },
    burst: { type: 'string', default: '0' },
  },
});
const int = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name} must be a whole number, got ${values[name]}`);
  return n;
};

function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const started = Date.now();
const result = await runCampaign({
  nodes: int('nodes'),
  kills: int('kills'),
  zombies: int('zombies'),
  drains: int('drains'),
  crashes: int('crashes'),
  redisRestarts: int('redis-restarts'),
  brokerRestarts: int('broker-restarts'),
  linkCuts: int('link-cuts'),
  rate: int('rate'),
  stations: int('stations'),
  seed: int('seed'),
  durationMs: int('duration') * 1000,
  sessionTimeoutMs: int('session-timeout'),
  ...(int('hostile') + int('burst') === 0
    ? {}
    : { hostile: { perClass: int('hostile'), burst: int('burst') } }),
  log: (line) => {
    process.stdout.write(`${line}\n`);
  },
});

const measured = result.faults.filter((f) => f.kind !== 'crash');
const moved = measured.filter((f) => f.kind === 'kill' || f.kind === 'zombie' || f.kind === 'drain');
const stats = (
  faults: readonly (typeof measured)[number][],
  pick: (f: (typeof measured)[number]) => number | undefined,
): string => {
  const xs = faults
    .map(pick)
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  const missed = faults.length - xs.length;
  const fmt = (x: number | undefined): string => (x === undefined ? '-' : (x / 1000).toFixed(2));
  return `${fmt(percentile(xs, 0.5))} / ${fmt(percentile(xs, 0.99))} / ${fmt(xs.at(-1))}${missed > 0 ? ` (${missed} not within 60 s)` : ''}`;
};
const byKind = new Map<string, number>();
for (const f of result.faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
const rows: [string, string][] = [
  ['faults injected', [...byKind].map(([k, n]) => `${n} ${k}`).join(', ')],
  ['records in', String(result.recordsIn)],
  [
    'expected results (windows, alerts, late, dead letters)',
    `${result.expected.windows}, ${result.expected.alerts}, ${result.expected.late}, ${result.expected.dlq}`,
  ],
  [
    'hostile records (each a dead letter with its reason)',
    `${result.hostile} (${result.dlqWithoutReason} without a reason)`,
  ],
  ['results lost', String(result.lost)],
  ['results duplicated', String(result.duplicated)],
  [
    'alerts at the subscriber (received / unique / missing / reconnects)',
    `${result.subscriber.received} / ${result.subscriber.unique} / ${result.subscriber.missing} / ${result.subscriber.reconnects}`,
  ],
  ['partitions owned again, s (p50 / p99 / max)', stats(moved, (f) => f.reassignedMs)],
  ['lag back to its level, s (p50 / p99 / max)', stats(measured, (f) => f.recoveredMs)],
  ['node processes that stopped by themselves', String(result.deadAtEnd)],
  ['peak resident memory of a node, MiB', String(result.maxRssMb)],
  ['campaign duration, s', ((Date.now() - started) / 1000).toFixed(0)],
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`\n| ${'figure'.padEnd(width)} | value |\n| ${'-'.repeat(width)} | --- |\n`);
for (const [k, v] of rows) process.stdout.write(`| ${k.padEnd(width)} | ${v} |\n`);
if (result.problems.length > 0)
  process.stdout.write(`\nfirst differences from the oracle:\n${result.problems.slice(0, 10).join('\n')}\n`);
mkdirSync(join(ROOT, '.run'), { recursive: true });
const file = join(ROOT, '.run', `chaos-${int('seed')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2));
process.stdout.write(`\nfigures: ${file}\n`);
process.exitCode =
  result.lost === 0 && result.duplicated === 0 && result.deadAtEnd === 0 && result.dlqWithoutReason === 0
    ? 0
    : 1;
