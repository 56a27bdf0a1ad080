/**
 * Heap per sensor: an embedded engine (the benchmark pipeline, checkpoints in Redis as in a cluster)
 * whose N sensors have each sent a few readings and keep their open windows. Measured after a full GC,
 * against the heap with the input already in the in-memory log.
 *
 *   node --expose-gc --max-old-space-size=8192 --import tsx bench/memory.ts <sensors> <active|idle>
 *
 *   active  every sensor an actor with its state (passivation off), just after its readings
 *   idle    every sensor idle past engine.passivateAfter: dormant, its state in Redis, its id here
 * Prints one JSON line: {sensors, mode, heapPerSensorBytes, heapMiB, rssMiB, seconds, actors}.
 */
import { randomUUID } from 'node:crypto';
import { buildConfig } from '../src/config/load.js';
import { startEmbedded } from '../src/node/node.js';
import { MemoryRecordLog } from '../src/ports/memory-record-log.js';
import { silentLogger } from '../src/obs/logger.js';
import { RedisStateStore } from '../src/transport/redis/state-store.js';
import { settled } from '../test/support/embedded.js';
import { benchPipeline, BENCH_METRICS, deleteKeys } from './lib.js';

const sensors = Number(process.argv[2] ?? 100_000);
const mode = process.argv[3] === 'active' ? 'active' : 'idle';
const perSensor = 2;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const prefix = `bench-memory-${randomUUID().slice(0, 8)}.`;
const config = buildConfig({
  node: { id: 'bench-memory' },
  log: { level: 'silent' },
  redis: { keyPrefix: prefix },
  checkpoint: { interval: '1s', store: 'redis' },
  engine: { passivateAfter: mode === 'active' ? 0 : '1s' },
  logs: { enabled: false },
  pipeline: benchPipeline(),
});
const log = new MemoryRecordLog();
const T = Date.now() - 3_600_000;
for (const [role, n] of Object.entries(config.kafka.partitions))
  log.createTopic(config.kafka.topics[role as 'readings'], n);
// Each sensor's readings one after the other: a burst per sensor, then it is idle (sensors are not
// woken again while the others take theirs, which would measure passivation churn, not memory).
const messages: { key: string; value: string }[] = [];
for (let s = 0; s < sensors; s++) {
  for (let i = 0; i < perSensor; i++) {
    const values = Object.fromEntries(BENCH_METRICS.map((m, j) => [m, 20 + ((s + i + j) % 10)]));
    messages.push({
      key: `m-${s}`,
      value: JSON.stringify({ sensorId: `m-${s}`, ts: T + i * 1_000, values, seq: i }),
    });
  }
  if (messages.length >= 100_000)
    log.append([{ topic: config.kafka.topics.readings, messages: messages.splice(0) }]);
}
log.append([{ topic: config.kafka.topics.readings, messages }]);
const store = new RedisStateStore({ ...config.redis, rollupTtlMs: 60_000, rawTtlMs: 60_000 });
gc();
const baseline = process.memoryUsage().heapUsed;
const started = performance.now();
const node = await startEmbedded(config, silentLogger, log, store);
await settled(log, config, 3_600_000);
const seconds = (performance.now() - started) / 1000;
await new Promise((resolve) => setTimeout(resolve, 1_500)); // a last checkpoint of every sensor
if (mode === 'idle') {
  // Until only the partition and bucket actors are left: every sensor dormant.
  const skeleton = config.kafka.partitions.readings * (1 + config.engine.buckets);
  const deadline = Date.now() + 600_000;
  while (node.engine.actorCount > skeleton && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 250));
}
gc();
const heap = process.memoryUsage().heapUsed - baseline;
process.stdout.write(
  `${JSON.stringify({
    sensors,
    mode,
    heapPerSensorBytes: heap / sensors,
    heapMiB: heap / 1048576,
    rssMiB: process.memoryUsage().rss / 1048576,
    seconds,
    actors: node.engine.actorCount,
  })}\n`,
);
await node.stop();
await store.close();
await deleteKeys(config.redis, prefix);
