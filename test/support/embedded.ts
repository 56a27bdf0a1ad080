import { buildConfig, type VigilConfig } from '../../src/config/load.js';
import type { Alert, WindowResult } from '../../src/core/outputs.js';
import type { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import type { StateStore } from '../../src/ports/state-store.js';
import {
  acceptancePipeline,
  PARTITIONS,
  readRollups,
  type EngineOutput,
  type InputRecord,
} from './acceptance.js';

export function embeddedConfig(overrides: Record<string, unknown> = {}): VigilConfig {
  return buildConfig({
    node: { id: 'embedded' },
    log: { level: 'silent' },
    kafka: { groupId: 'engine', partitions: { readings: PARTITIONS } },
    checkpoint: { interval: '100ms', store: 'memory' },
    engine: { buckets: 8 },
    // The acceptance input is dated in the past: clock records (wall clock) would not be its time.
    readings: { clock: { interval: 0 } },
    pipeline: acceptancePipeline(),
    ...overrides,
  });
}

export function feed(log: MemoryRecordLog, config: VigilConfig, records: readonly InputRecord[]): void {
  log.append([
    { topic: config.kafka.topics.readings, messages: records.map((r) => ({ key: r.key, value: r.value })) },
  ]);
}

/** Resolves once every partition of vigil.readings is checkpointed up to its end (empty ones count as done). */
export async function settled(log: MemoryRecordLog, config: VigilConfig, timeoutMs = 60_000): Promise<void> {
  const topic = config.kafka.topics.readings;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Caught up: committed at the partition's end (offsets have gaps: markers, aborted records).
    // Polled every 20 ms while the engine works: it reads offsets only, never copies a partition.
    let done = true;
    for (let partition = 0; partition < log.partitionCount(topic) && done; partition++) {
      const end = log.endOffset(topic, partition);
      done = end === 0 || log.committedOffset(config.kafka.groupId, { topic, partition }) === String(end);
    }
    if (done) return;
    if (Date.now() > deadline) throw new Error('the engine did not catch up in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Everything the engine wrote to the output topics and the rollups of the given sensors. */
export async function gather(
  log: MemoryRecordLog,
  config: VigilConfig,
  store: StateStore,
  sensors: Iterable<string>,
): Promise<EngineOutput> {
  const all = (topic: string) => log.partitions(topic).flat();
  const source = (h: Readonly<Record<string, unknown>>): string =>
    `${String(h['vigil-source-partition'])}:${String(h['vigil-source-offset'])}`;
  const kept = await readRollups(store, sensors);
  const t = config.kafka.topics;
  return {
    windows: all(t.aggregates).map((r) => JSON.parse(r.value?.toString() ?? '') as WindowResult),
    alerts: all(t.alerts).map((r) => JSON.parse(r.value?.toString() ?? '') as Alert),
    late: all(t.late).map((r) => source(r.headers)),
    dlq: all(t.dlq).map((r) => source(r.headers)),
    ...kept,
  };
}

export function sensorsOf(records: readonly InputRecord[]): Set<string> {
  return new Set(records.map((r) => r.key));
}
