import type { SensorStateWrite, StoredSensor } from '../core/checkpoint.js';
import type { DeadLetter, OutputBuffer } from '../core/outputs.js';
import type { RecordSources } from '../core/router.js';
import type { SensorCommand, SensorEvent, SensorPipeline, SensorSnapshot } from '../core/sensor.js';
import type { Logger } from '../obs/logger.js';
import type { Gather, Latch } from './latch.js';

/**
 * The messages of the ingest hierarchy (actors/partition-actor.ts). They carry data and a completion
 * (a Latch, or a Gather for answers): the outputs and dead letters a step produces, what happened to
 * the actors on the way (`ActorActivity`), and where each reading came from. No message carries a
 * function: whatever the worker does with a step's results, it does after the step, in its own code.
 */

/** What the actors did during a step, for the worker's counters and logs. */
export interface ActorActivity {
  /** Sensor actors spawned (new sensors, dormant ones activated). */
  spawned: number;
  /** Sensors restored from their last checkpoint (a poison record, an injected crash), with why. */
  readonly recovered: { readonly sensorId: string; readonly reason: string }[];
}

export const newActivity = (): ActorActivity => ({ spawned: 0, recovered: [] });

export interface BatchContext {
  readonly out: OutputBuffer;
  readonly deadLetters: DeadLetter[];
  readonly latch: Latch;
  readonly sources: RecordSources;
  readonly activity: ActorActivity;
}

export interface BarrierContext {
  /** Filled with sensor id -> what the checkpoint writes of it, by each sensor at the barrier. */
  readonly snapshots: Map<string, SensorStateWrite>;
  readonly latch: Latch;
}

/** Commands for one sensor, routed unchanged from the partition through its bucket. */
export type SensorAddressed =
  | {
      readonly type: 'crash';
      readonly sensorId: string;
      readonly latch: Latch;
      readonly activity: ActorActivity;
    }
  | {
      readonly type: 'inspect';
      readonly sensorId: string;
      readonly answer: Gather<SensorSnapshot | undefined>;
    }
  | {
      readonly type: 'control';
      readonly sensorId: string;
      readonly command: SensorCommand;
      readonly out: OutputBuffer;
      readonly latch: Latch;
      readonly activity: ActorActivity;
    };

export type SensorMsg =
  | { readonly type: 'events'; readonly events: readonly SensorEvent[]; readonly batch: BatchContext }
  | { readonly type: 'barrier'; readonly barrier: BarrierContext }
  | { readonly type: 'crash'; readonly latch: Latch; readonly activity: ActorActivity }
  | { readonly type: 'inspect'; readonly answer: Gather<SensorSnapshot | undefined> }
  | {
      readonly type: 'control';
      readonly command: SensorCommand;
      readonly out: OutputBuffer;
      readonly latch: Latch;
    };

/** Each bucket answers with its index and the sensors it holds (active and dormant). */
export interface ListSensors {
  readonly type: 'list';
  readonly answer: Gather<readonly [number, readonly string[]]>;
}

/**
 * Every active sensor idle since before `before` (epoch ms) becomes dormant. Sent only when the store
 * holds every sensor's latest state (no sensor of the partition changed since the last checkpoint).
 * Each bucket answers how many it passivated and how many stay active.
 */
export interface Passivate {
  readonly type: 'passivate';
  readonly before: number;
  readonly answer: Gather<{ readonly passivated: number; readonly active: number }>;
}

type Fanned =
  | { readonly type: 'barrier'; readonly sensors: readonly string[]; readonly barrier: BarrierContext }
  | { readonly type: 'dormant'; readonly sensorIds: readonly string[] }
  | Passivate
  | ListSensors
  | SensorAddressed;

export type BucketMsg =
  | {
      readonly type: 'events';
      readonly groups: ReadonlyArray<readonly [string, SensorEvent[]]>;
      readonly batch: BatchContext;
    }
  | Fanned;

export type PartitionMsg =
  | {
      readonly type: 'events';
      readonly groups: ReadonlyMap<string, SensorEvent[]>;
      readonly batch: BatchContext;
    }
  | Fanned;

export interface IngestDeps {
  readonly pipeline: SensorPipeline;
  readonly logger: Logger;
  readonly bucketCount: number;
  /** Snapshots of sensors as of the partition's last successful checkpoint (absent ones left out). */
  readonly loadSnapshots: (sensorIds: readonly string[]) => Promise<ReadonlyMap<string, StoredSensor>>;
}

/** Which completion a message belongs to, so a supervision policy that gives up can fail that step. */
export function completionOf(msg: unknown): Latch | Gather<unknown> | undefined {
  const m = msg as
    { batch?: BatchContext; barrier?: BarrierContext; latch?: Latch; answer?: Gather<unknown> } | undefined;
  return m?.batch?.latch ?? m?.barrier?.latch ?? m?.latch ?? m?.answer;
}
