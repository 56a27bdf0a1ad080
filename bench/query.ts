/**
 * `npm run bench:query`: the metrics query over the Redis rollups (and raw minutes), what a wide
 * request costs a node: rollups merged per second and the heap it holds meanwhile.
 *
 *   npm run bench:query -- [series] [minutes]      (default 20 series × 10,080 minutes: a week)
 *
 * Writes the rollups under a unique key prefix in the Redis of cluster/services.sh (one reading a
 * second per minute, with sketches, as the engine writes them), queries them all at once as
 * `POST /compute/metrics` does for a metric over all sensors, and deletes them. The figure bounds
 * `limits.maxQuerySeriesMinutes` (README, Limits).
 */
import { accumulate, newAccumulator, snapshotAccumulator } from '../src/core/aggregate.js';
import type { RollupRecord } from '../src/core/outputs.js';
import { querySeries } from '../src/engine/metrics-query.js';
import { RedisStateStore } from '../src/transport/redis/state-store.js';
import { deleteKeys } from './lib.js';

const [series = 20, minutes = 10_080] = process.argv.slice(2).map(Number);
const prefix = `bench-query-${process.pid}-${Date.now()}:`;
const REDIS = { url: 'redis://127.0.0.1:6379', keyPrefix: prefix };
const store = new RedisStateStore({
  ...REDIS,
  rollupTtlMs: 3_600_000,
  rawTtlMs: 3_600_000,
});
const T0 = Date.UTC(2026, 0, 1);
const p = { topic: 'bench-query', partition: 0 };
const { epoch } = await store.acquire(p);
for (let s = 0; s < series; s++) {
  const rollups: RollupRecord[] = [];
  for (let m = 0; m < minutes; m++) {
    const acc = newAccumulator(true);
    for (let i = 0; i < 60; i++) accumulate(acc, 20 + Math.sin(i + m), T0 + m * 60_000 + i * 1000);
    rollups.push({ sensorId: `s${s}`, metric: 't', minute: T0 + m * 60_000, acc: snapshotAccumulator(acc) });
  }
  await store.commit(p, {
    epoch,
    offset: String(s),
    partitionState: Buffer.from('{}'),
    sensors: new Map(),
    rollups,
  });
  process.stderr.write(`\rwritten ${s + 1}/${series} series`);
}
process.stderr.write('\n');

const names = Array.from({ length: series }, (_, s) => ({ sensorId: `s${s}`, metric: 't' }));
const before = process.memoryUsage().heapUsed;
let peak = before;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().heapUsed);
}, 5);
const started = performance.now();
const { acc } = await querySeries(store, names, {
  from: T0 + 30_000, // an end inside a minute, as most requests have
  to: T0 + minutes * 60_000,
  now: Date.now(),
  settings: { rawTtlMs: 3_600_000, maxSeriesMinutes: Number.MAX_SAFE_INTEGER },
});
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const rollups = series * minutes;
process.stdout.write(
  [
    `${series} series × ${minutes.toLocaleString('en-US')} minutes: ${rollups.toLocaleString('en-US')} rollups, ${acc.count.toLocaleString('en-US')} readings`,
    `query                 ${seconds.toFixed(2)} s, ${Math.round(rollups / seconds).toLocaleString('en-US')} rollups/s`,
    `heap held meanwhile   ${((peak - before) / 1_048_576).toFixed(0)} MiB at most`,
  ].join('\n') + '\n',
);
await store.close();
await deleteKeys(REDIS, prefix);
