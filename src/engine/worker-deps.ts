import type { ActorSystem } from '../actors/nact.js';
import { decodePartitionState, encodePartitionState } from '../core/checkpoint.js';
import { restoreLegacyClock } from '../core/checkpoint-legacy.js';
import type { RecordDecoder } from '../core/router.js';
import type { SensorPipeline } from '../core/sensor.js';
import { StreamClock } from '../core/stream-clock.js';
import type { Logger } from '../obs/logger.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { RecordConsumer } from '../ports/record-log.js';
import type { RestoredPartition, StateStore } from '../ports/state-store.js';
import type { FrequencyCounter } from './frequencies.js';
import type { OutputWriter } from './output-writer.js';
import type { EngineStats } from './stats.js';

/** What a partition worker works with. */
export interface WorkerDeps {
  readonly pipeline: SensorPipeline;
  /** The stream's decoder: a sensor reading, or a log line as a reading of its source. */
  readonly decode: RecordDecoder;
  /** The topic's partition count: readings of another partition's sensors are forwarded there. */
  readonly partitions: number;
  /** limits.maxFuture: event time this far ahead of the broker's time is a dead letter. */
  readonly maxFutureMs: number;
  /** readings.clock.gap: a jump of stream time longer than this restarts silence timers (core/stream-clock.ts). */
  readonly clockGapMs?: number | undefined;
  /** Forward records as they are (log records), not their readings in Vigil's JSON (core/router.ts). */
  readonly forwardVerbatim?: boolean;
  /** A batch goes to the actors in steps of at most this many distinct keys (limits.maxSensorsPerStep). */
  readonly maxSensorsPerStep: number;
  /** After a step that leaves this many sensors changed, the partition checkpoints at once. */
  readonly maxDirtySensors: number;
  /** Live event counts (dashboard statistics). */
  readonly frequencies: FrequencyCounter;
  /** The silence thresholds of the rules in force now (they change with runtime rules). */
  readonly silenceThresholds: () => readonly number[];
  readonly buckets: number;
  readonly checkpointIntervalMs: number;
  /** Active sensors idle this long become dormant after a checkpoint (0: never). */
  readonly passivateAfterMs: number;
  readonly store: StateStore;
  readonly consumer: RecordConsumer;
  readonly outputs: OutputWriter;
  readonly system: ActorSystem;
  readonly logger: Logger;
  readonly stats: EngineStats;
  readonly metrics?: NodeMetrics;
}

/** A partition as its worker reports it (status output, dashboard, metrics). */
export interface WorkerStatus {
  readonly state: string;
  readonly epoch: number;
  /** The next offset to process. */
  readonly offset: string | undefined;
  /** Sensors changed since the last checkpoint. */
  readonly dirty: number;
  readonly lastCheckpointAt: number;
  /** Records between the next offset and the partition's end, as of the last batch. */
  readonly lag: number | undefined;
  /** The partition's stream time (event time, moved by readings and clock records), if any yet. */
  readonly streamTime: number | undefined;
}

/**
 * The partition's stream clock: new, or as its last checkpoint left it (version 1: whole; 2: per-sensor
 * entries), with the thresholds of the rules in force.
 */
export function restoreClock(
  d: Pick<WorkerDeps, 'pipeline' | 'silenceThresholds' | 'clockGapMs'>,
  restored?: Pick<RestoredPartition, 'partitionState' | 'clockEntries'>,
): StreamClock {
  const silence = d.silenceThresholds();
  const clock = new StreamClock(d.pipeline.idleTimeoutMs, silence, d.clockGapMs);
  if (restored?.partitionState === undefined) return clock;
  const state = decodePartitionState(restored.partitionState);
  if (state.v === 1) return restoreLegacyClock(clock, state.clock, silence);
  return clock.restoreEntries(state.st, restored.clockEntries);
}

/** The forwarded readings a partition had taken at its last checkpoint (none before version 2's `fw`). */
export function restoreForwarded(restored: Pick<RestoredPartition, 'partitionState'>): Map<number, bigint> {
  const forwarded = new Map<number, bigint>();
  if (restored.partitionState === undefined) return forwarded;
  const state = decodePartitionState(restored.partitionState);
  if (state.v === 2) for (const [p, o] of state.fw ?? []) forwarded.set(p, BigInt(o));
  return forwarded;
}

/** The partition's own state for a checkpoint (version 2): stream time and the forwarded readings taken. */
export function partitionStateOf(clock: StreamClock, forwarded: ReadonlyMap<number, bigint>): Buffer {
  return encodePartitionState({
    v: 2,
    st: Number.isFinite(clock.now) ? clock.now : null,
    ...(forwarded.size === 0 ? {} : { fw: [...forwarded].map(([p, o]) => [p, o.toString()] as const) }),
  });
}

/** The wait before reopening after `failures` resets since the last good checkpoint: 100 ms doubling to 30 s. */
export function backoff(failures: number): Promise<void> {
  if (failures <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 100 * 2 ** (failures - 1))));
}
