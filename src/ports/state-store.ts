import type { SensorStateWrite, StoredSensor } from '../core/checkpoint.js';
import type { RollupRecord } from '../core/outputs.js';
import type { RawMinute } from '../core/raw-minutes.js';

/** Seconds of live event counts kept: enough for a one-minute window and some slack. */
export const FREQUENCY_TTL_S = 120;

/** Events counted in one second. */
export interface EventCounts {
  readonly sensors: ReadonlyMap<string, number>;
  readonly types: ReadonlyMap<string, number>;
}

/** Events per second, averaged over a window. */
export interface Frequencies {
  readonly sensors: Record<string, number>;
  readonly types: Record<string, number>;
}

/** One partition of one topic: the unit of ownership, checkpointing and fencing. */
export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export const partitionKey = (p: PartitionRef): string => `${p.topic}:${p.partition}`;

/** What a new owner finds when it takes a partition. */
export interface RestoredPartition {
  /** This owner's epoch: checkpoints carrying an older one are refused. */
  readonly epoch: number;
  /** Next offset to process; undefined when the partition was never checkpointed. */
  readonly offset: string | undefined;
  readonly partitionState: Buffer | undefined;
  /**
   * The sensors with a checkpointed snapshot. Only their ids: a snapshot is loaded when its sensor is
   * next needed (loadSensors), so taking a partition of a million sensors reads ids, not state.
   */
  readonly sensorIds: readonly string[];
  /** The stream clock's per-sensor entries (see StreamClock.takeChanges). */
  readonly clockEntries: ReadonlyMap<string, string>;
}

export interface CheckpointWrite {
  readonly epoch: number;
  readonly offset: string;
  readonly partitionState: Buffer;
  /**
   * The sensors that changed since the last checkpoint (the others stay as they are): each one's main
   * record replaces the stored one; its parts are set, or removed (null); its other parts stay.
   */
  readonly sensors: ReadonlyMap<string, SensorStateWrite>;
  /** Closed minutes to store; written in the same atomic step, so each counts exactly once. */
  readonly rollups: readonly RollupRecord[];
  /**
   * Readings taken into the rollups since the last checkpoint, packed per sensor, metric and minute:
   * appended to what is kept of that minute, in the same atomic step (kept `rollups.rawTtl`).
   */
  readonly raw?: readonly RawMinute[];
  /** Stream clock entries that changed: set, or deleted (null). In the same atomic step. */
  readonly clockEntries?: ReadonlyMap<string, string | null>;
}

/**
 * Durable actor state. Implementations: MemoryStateStore (embedded mode, tests) and RedisStateStore.
 * Both pass test/contract/state-store.contract.ts.
 */
export interface StateStore {
  /** Takes the partition: increments its epoch (fencing every earlier owner) and returns its checkpoint. */
  acquire(p: PartitionRef): Promise<RestoredPartition>;
  /** The partition's current epoch (0: never taken), to check that an owner is still the owner. */
  epoch(p: PartitionRef): Promise<number>;
  /** Writes a checkpoint atomically if `w.epoch` is still the partition's epoch; else StaleEpochError. */
  commit(p: PartitionRef, w: CheckpointWrite): Promise<void>;
  /**
   * The last checkpointed state of these sensors, main record and parts, in one request (absent ones
   * are left out): to activate dormant sensors, and to restore a crashed one.
   */
  loadSensors(p: PartitionRef, sensorIds: readonly string[]): Promise<Map<string, StoredSensor>>;
  /**
   * Adds one second's event counts (per sensor, per event type) to the live frequencies. Counts are
   * statistics for the dashboard, not results: a replay after a crash counts its events again.
   */
  addFrequencies(second: number, counts: EventCounts): Promise<void>;
  /** Events per second over the `windowS` seconds before `second`, per sensor and per event type. */
  frequencies(second: number, windowS: number): Promise<Frequencies>;
  /** Every (sensor, metric) that has rollups: what the metrics API can answer about. */
  series(): Promise<{ sensorId: string; metric: string }[]>;
  /** Rollups of one sensor and metric with minute in [from, to), oldest first. */
  rollups(sensorId: string, metric: string, from: number, to: number): Promise<RollupRecord[]>;
  /**
   * The minutes in [from, to) with raw readings kept, of any series: those of a series without a
   * rollup are its open minutes (see core/rollup-query.ts for the order a reader asks in).
   */
  rawMinutesKept(from: number, to: number): Promise<number[]>;
  /** The raw readings kept of these minutes of one sensor and metric (packed: core/raw-minutes.ts). */
  rawMinutes(sensorId: string, metric: string, minutes: readonly number[]): Promise<Map<number, Buffer>>;
  /** Resolves when the store answers (a node's readiness probe); rejects with why not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
