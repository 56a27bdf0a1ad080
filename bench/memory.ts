/**
 * Heap per sensor actor: an embedded engine (the benchmark pipeline) whose N sensors have each sent a
 * few readings and are now idle, with their open windows. Measured after a full GC, against the heap
 * with the input already in the in-memory log; checkpoints are written to a store that keeps nothing
 * (in a cluster they live in Redis, not in the node's heap).
 *
 *   node --expose-gc --max-old-space-size=8192 --import tsx bench/memory.ts <sensors> [readingsPerSensor=3]
 * Prints one JSON line: {sensors, heapPerSensorBytes, heapMiB, rssMiB, seconds}.
 */
import { buildConfig } from '../src/config/load.js';
import { startEmbedded } from '../src/engine/node.js';
import { MemoryLog } from '../src/log/memory-log.js';
import { silentLogger } from '../src/log.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import type { CheckpointWrite, PartitionRef } from '../src/state/store.js';
import { settled } from '../test/support/embedded.js';
import { benchPipeline, BENCH_METRICS } from './lib.js';

/** Keeps epochs and offsets, forgets snapshots and rollups: the heap then holds the actors alone. */
class ForgetfulStore extends MemoryStateStore {
  override commit(p: PartitionRef, w: CheckpointWrite): Promise<void> {
    return super.commit(p, { ...w, sensors: new Map(), rollups: [] });
  }
}

const sensors = Number(process.argv[2] ?? 100_000);
const perSensor = Number(process.argv[3] ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const config = buildConfig({
  node: { id: 'bench-memory' },
  log: { level: 'silent' },
  checkpoint: { interval: '1s', store: 'memory' },
  logs: { enabled: false },
  pipeline: benchPipeline(),
});
const log = new MemoryLog();
const T = Date.now() - 3_600_000;
for (const [role, n] of Object.entries(config.kafka.partitions))
  log.createTopic(config.kafka.topics[role as 'readings'], n);
for (let i = 0; i < perSensor; i++) {
  const messages = new Array<{ key: string; value: string }>(sensors);
  for (let s = 0; s < sensors; s++) {
    const values = Object.fromEntries(BENCH_METRICS.map((m, j) => [m, 20 + ((s + i + j) % 10)]));
    messages[s] = {
      key: `m-${s}`,
      value: JSON.stringify({ sensorId: `m-${s}`, ts: T + i * 1_000, values, seq: i }),
    };
  }
  log.append([{ topic: config.kafka.topics.readings, messages }]);
}
gc();
const baseline = process.memoryUsage().heapUsed;
const started = performance.now();
const node = await startEmbedded(config, silentLogger, log, new ForgetfulStore());
await settled(log, config, 3_600_000);
const seconds = (performance.now() - started) / 1000;
await new Promise((resolve) => setTimeout(resolve, 1_500)); // a last checkpoint: snapshots taken and dropped
gc();
const heap = process.memoryUsage().heapUsed - baseline;
const actors = node.engine.actorCount;
process.stdout.write(
  `${JSON.stringify({
    sensors,
    actors,
    heapPerSensorBytes: heap / sensors,
    heapMiB: heap / 1048576,
    rssMiB: process.memoryUsage().rss / 1048576,
    seconds,
  })}\n`,
);
await node.stop();
