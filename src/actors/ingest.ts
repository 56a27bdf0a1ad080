import {
  encodeSensorCheckpoint,
  restoreSensor,
  type SensorStateWrite,
  type StoredSensor,
} from '../core/checkpoint.js';
import { newOutputBuffer, type DeadLetter, type OutputBuffer, type RecordSource } from '../core/outputs.js';
import type { Reading } from '../core/reading.js';
import {
  SensorProcessor,
  type SensorEvent,
  type SensorPipeline,
  type SensorCommand,
  type SensorSnapshot,
} from '../core/sensor.js';
import type { Logger } from '../obs/logger.js';
import type { Latch } from './latch.js';
import { actorName, fnv1a } from './names.js';
import { spawnActor, stopActor, tell, type Ref, type SupervisionCtx } from './nact.js';

/**
 * The ingest hierarchy of one partition:
 *
 *   partition-<topic>-<n>   routes each batch's sensor groups, barriers and commands to its buckets
 *     bucket-<k>            owns the sensors that hash to it (nact copies the children map per
 *                           message, so no actor that handles every batch may have thousands of
 *                           children)
 *       sensor-<id>         a thin shell around SensorProcessor (windows, rules, watermark, dedupe)
 *
 * Sensors are virtual actors, as Orleans' grains are: a sensor is ACTIVE (a spawned actor holding its
 * state) or DORMANT (its state is the partition's last checkpoint in the store; the bucket keeps its
 * id only). A dormant sensor is activated when something is sent to it: the bucket loads the
 * snapshots of all the dormant sensors a message needs in one store request, then spawns them. Taking
 * a partition makes every checkpointed sensor dormant, so nothing is loaded until it is needed. After
 * a checkpoint, when no sensor of the partition has state newer than the store's, active sensors idle
 * for `passivateAfter` are stopped and become dormant: memory holds the sensors that are busy, and an
 * idle sensor costs its id. Snapshots restore exactly (test/unit/sensor.test.ts), so a sensor's
 * outputs do not depend on when it was passivated.
 *
 * Window and rule state live inside the sensor actor as plain objects, not as child actors: a nact
 * actor per window per sensor would cost a mailbox, a setImmediate and a context object per reading
 * per window (see README, "Design changes").
 *
 * Supervision, per level (decided here, never nact's default of logging and stopping):
 *   sensor     a reading that throws is a poison record: its partial outputs are discarded, it goes to
 *              the dead letters with the error, and the sensor is RESTORED from its last checkpoint
 *              and replays the events it had since (the outputs of the replay were already produced
 *              and are dropped), then carries on. Other sensors never notice.
 *              If the restore itself fails: ESCALATE (the step's latch fails).
 *   bucket     any error: ESCALATE (fail the step's latch); the actor stops.
 *   partition  any error: ESCALATE; the partition worker then resets the whole partition: a new
 *              epoch, restore from the checkpoint, and replay from its offset.
 */

export interface BatchContext {
  readonly out: OutputBuffer;
  readonly deadLetters: DeadLetter[];
  readonly latch: Latch;
  readonly sourceOf: (reading: Reading) => RecordSource;
}

export interface BarrierContext {
  /** Filled with sensor id -> what the checkpoint writes of it, by each sensor at the barrier. */
  readonly snapshots: Map<string, SensorStateWrite>;
  readonly latch: Latch;
}

export type SensorMsg =
  | { readonly type: 'events'; readonly events: readonly SensorEvent[]; readonly batch: BatchContext }
  | { readonly type: 'barrier'; readonly barrier: BarrierContext }
  | { readonly type: 'crash'; readonly latch: Latch }
  | { readonly type: 'inspect'; readonly reply: (snapshot: SensorSnapshot) => void }
  | {
      readonly type: 'control';
      readonly command: SensorCommand;
      readonly out: OutputBuffer;
      readonly latch: Latch;
    };

/** Commands for one sensor, routed unchanged from the partition through its bucket. */
type SensorAddressed =
  | { readonly type: 'crash'; readonly sensorId: string; readonly latch: Latch }
  | {
      readonly type: 'inspect';
      readonly sensorId: string;
      readonly reply: (snapshot: SensorSnapshot | undefined) => void;
    }
  | RoutedControl;

type RoutedControl = {
  readonly type: 'control';
  readonly sensorId: string;
  readonly command: SensorCommand;
  readonly out: OutputBuffer;
  readonly latch: Latch;
};

/**
 * The sensors each bucket holds (spawned, or restored and waiting for their first event). Every
 * bucket answers once, with its index, so the asker knows when it has them all.
 */
type ListSensors = {
  readonly type: 'list';
  readonly reply: (bucket: number, sensorIds: readonly string[]) => void;
};

/**
 * Every active sensor idle since before `before` (epoch ms) becomes dormant. Sent only when the store
 * holds every sensor's latest state (no sensor of the partition changed since the last checkpoint).
 * Each bucket calls `done` with how many it passivated and how many stay active.
 */
type Passivate = {
  readonly type: 'passivate';
  readonly before: number;
  readonly done: (passivated: number, active: number) => void;
};

export type BucketMsg =
  | {
      readonly type: 'events';
      readonly groups: ReadonlyArray<readonly [string, SensorEvent[]]>;
      readonly batch: BatchContext;
    }
  | { readonly type: 'barrier'; readonly sensors: readonly string[]; readonly barrier: BarrierContext }
  | { readonly type: 'dormant'; readonly sensorIds: readonly string[] }
  | Passivate
  | ListSensors
  | SensorAddressed;

export type PartitionMsg =
  | {
      readonly type: 'events';
      readonly groups: ReadonlyMap<string, SensorEvent[]>;
      readonly batch: BatchContext;
    }
  | { readonly type: 'barrier'; readonly sensors: readonly string[]; readonly barrier: BarrierContext }
  | { readonly type: 'dormant'; readonly sensorIds: readonly string[] }
  | Passivate
  | ListSensors
  | SensorAddressed;

export interface IngestDeps {
  readonly pipeline: SensorPipeline;
  readonly logger: Logger;
  readonly bucketCount: number;
  /** Snapshots of sensors as of the partition's last successful checkpoint (absent ones left out). */
  readonly loadSnapshots: (sensorIds: readonly string[]) => Promise<ReadonlyMap<string, StoredSensor>>;
  /** Called once per sensor restore (for stats and tests). */
  readonly onRecovery: (sensorId: string, reason: string) => void;
  /** Called when a sensor actor is spawned (the actor count of the metrics). */
  readonly onSpawn?: () => void;
}

interface SensorState {
  processor: SensorProcessor;
  /** Events since the last barrier: what a restore from the last checkpoint must replay. */
  since: SensorEvent[];
}

/** Which latch a message belongs to, so a supervision policy that gives up can fail that step. */
function latchOf(msg: unknown): Latch | undefined {
  const m = msg as
    { type?: string; batch?: BatchContext; barrier?: BarrierContext; latch?: Latch } | undefined;
  return m?.batch?.latch ?? m?.barrier?.latch ?? m?.latch;
}

function escalate(deps: IngestDeps, level: string) {
  return (msg: unknown, err: unknown, ctx: SupervisionCtx): symbol => {
    deps.logger.error(
      { err, actor: ctx.path.toString() },
      `${level} actor failed; escalating to the partition`,
    );
    latchOf(msg)?.fail(err);
    return ctx.stop;
  };
}

function marks(out: OutputBuffer): number[] {
  return [
    out.windowResults.length,
    out.alerts.length,
    out.late.length,
    out.rollups.length,
    out.duplicates.length,
  ];
}

function truncate(out: OutputBuffer, m: readonly number[]): void {
  out.windowResults.length = m[0] ?? 0;
  out.alerts.length = m[1] ?? 0;
  out.late.length = m[2] ?? 0;
  out.rollups.length = m[3] ?? 0;
  out.duplicates.length = m[4] ?? 0;
}

function spawnSensor(
  parent: Ref<BucketMsg>,
  sensorId: string,
  initial: SensorProcessor,
  deps: IngestDeps,
): Ref<SensorMsg> {
  /** Rebuilds the processor from the last checkpoint plus the events since, and drops the replay's outputs. */
  const recover = async (state: SensorState, reason: string): Promise<void> => {
    const stored = (await deps.loadSnapshots([sensorId])).get(sensorId);
    const processor =
      stored === undefined
        ? new SensorProcessor(sensorId, deps.pipeline)
        : restoreSensor(sensorId, deps.pipeline, stored);
    const discard = newOutputBuffer();
    for (const e of state.since) processor.process(e, discard);
    state.processor = processor;
    deps.onRecovery(sensorId, reason);
  };

  const processFrom = async (
    state: SensorState,
    msg: Extract<SensorMsg, { type: 'events' }>,
    start: number,
  ): Promise<SensorState> => {
    const { batch, events } = msg;
    for (let i = start; i < events.length; i++) {
      const event = events[i] as SensorEvent;
      const m = marks(batch.out);
      try {
        state.processor.process(event, batch.out);
        state.since.push(event);
      } catch (err) {
        truncate(batch.out, m);
        const reason = `processing failed: ${(err as Error).message}`;
        if (!('tick' in event)) {
          batch.deadLetters.push({
            source: batch.sourceOf(event),
            key: Buffer.from(sensorId),
            payload: Buffer.from(JSON.stringify(event)),
            reason,
          });
        }
        await recover(state, reason);
        return processFrom(state, msg, i + 1);
      }
    }
    batch.latch.done();
    return state;
  };

  return spawnActor(
    parent,
    actorName('sensor-', sensorId),
    (state: SensorState, msg: SensorMsg): SensorState | Promise<SensorState> => {
      switch (msg.type) {
        case 'events':
          return processFrom(state, msg, 0);
        case 'barrier':
          msg.barrier.snapshots.set(sensorId, encodeSensorCheckpoint(state.processor.checkpoint()));
          state.since = [];
          msg.barrier.latch.done();
          return state;
        case 'crash':
          // Fault injection: the same path as a processing crash, without a poison record.
          return recover(state, 'injected crash').then(() => {
            msg.latch.done();
            return state;
          });
        case 'inspect':
          // In mailbox order: the snapshot reflects every event handed to this sensor before.
          msg.reply(state.processor.snapshot());
          return state;
        case 'control':
          if (msg.command === 'pause') state.processor.pause();
          else state.processor.resume(msg.out);
          msg.latch.done();
          return state;
      }
    },
    { initialState: { processor: initial, since: [] }, onCrash: escalate(deps, 'sensor') },
  );
}

interface ActiveSensor {
  readonly ref: Ref<SensorMsg>;
  /** Wall-clock ms of the last message sent to it: what passivation goes by. */
  lastUsed: number;
}

interface BucketState {
  readonly sensors: Map<string, ActiveSensor>;
  /** Sensors whose state is the store's checkpoint: activated (loaded, spawned) when needed. */
  readonly dormant: Set<string>;
}

function spawnBucket(parent: Ref<PartitionMsg>, index: number, deps: IngestDeps): Ref<BucketMsg> {
  const spawn = (
    self: Ref<BucketMsg>,
    state: BucketState,
    sensorId: string,
    stored: StoredSensor | undefined,
  ) => {
    const processor =
      stored === undefined
        ? new SensorProcessor(sensorId, deps.pipeline)
        : restoreSensor(sensorId, deps.pipeline, stored);
    const ref = spawnSensor(self, sensorId, processor, deps);
    state.sensors.set(sensorId, { ref, lastUsed: Date.now() });
    deps.onSpawn?.();
    return ref;
  };
  /** Activates the dormant ones among `ids` (one store request for all of them). */
  const activate = async (self: Ref<BucketMsg>, state: BucketState, ids: Iterable<string>): Promise<void> => {
    const wanted = [...ids].filter((id) => state.dormant.has(id));
    if (wanted.length === 0) return;
    const snapshots = await deps.loadSnapshots(wanted);
    for (const id of wanted) {
      state.dormant.delete(id);
      spawn(self, state, id, snapshots.get(id));
    }
  };
  /** The active sensor's ref, spawning a new sensor that has never been seen. Activate dormant ones first. */
  const sensorRef = (state: BucketState, self: Ref<BucketMsg>, sensorId: string): Ref<SensorMsg> => {
    const active = state.sensors.get(sensorId);
    if (active !== undefined) {
      active.lastUsed = Date.now();
      return active.ref;
    }
    return spawn(self, state, sensorId, undefined);
  };
  return spawnActor(
    parent,
    `bucket-${index}`,
    async (state: BucketState, msg: BucketMsg, ctx): Promise<BucketState> => {
      switch (msg.type) {
        case 'events':
          await activate(
            ctx.self,
            state,
            msg.groups.map((g) => g[0]),
          );
          for (const [sensorId, events] of msg.groups) {
            tell(sensorRef(state, ctx.self, sensorId), { type: 'events', events, batch: msg.batch });
          }
          break;
        case 'barrier':
          for (const sensorId of msg.sensors) {
            // A dormant sensor's state is already the checkpoint's: nothing to snapshot.
            const active = state.sensors.get(sensorId);
            if (active === undefined) msg.barrier.latch.done();
            else tell(active.ref, { type: 'barrier', barrier: msg.barrier });
          }
          break;
        case 'dormant':
          for (const sensorId of msg.sensorIds) if (!state.sensors.has(sensorId)) state.dormant.add(sensorId);
          break;
        case 'passivate': {
          let passivated = 0;
          for (const [sensorId, active] of state.sensors) {
            if (active.lastUsed >= msg.before) continue;
            stopActor(active.ref);
            state.sensors.delete(sensorId);
            state.dormant.add(sensorId);
            passivated++;
          }
          msg.done(passivated, state.sensors.size);
          break;
        }
        case 'crash':
          await activate(ctx.self, state, [msg.sensorId]);
          tell(sensorRef(state, ctx.self, msg.sensorId), { type: 'crash', latch: msg.latch });
          break;
        case 'control':
          await activate(ctx.self, state, [msg.sensorId]);
          tell(sensorRef(state, ctx.self, msg.sensorId), {
            type: 'control',
            command: msg.command,
            out: msg.out,
            latch: msg.latch,
          });
          break;
        case 'list':
          msg.reply(index, [...state.sensors.keys(), ...state.dormant]);
          break;
        case 'inspect': {
          const live = state.sensors.get(msg.sensorId);
          if (live !== undefined) tell(live.ref, { type: 'inspect', reply: msg.reply });
          else if (state.dormant.has(msg.sensorId)) {
            const stored = (await deps.loadSnapshots([msg.sensorId])).get(msg.sensorId);
            msg.reply(
              stored === undefined
                ? undefined
                : restoreSensor(msg.sensorId, deps.pipeline, stored).snapshot(),
            );
          } else msg.reply(undefined);
          break;
        }
      }
      return state;
    },
    {
      initialState: { sensors: new Map<string, ActiveSensor>(), dormant: new Set<string>() },
      onCrash: escalate(deps, 'bucket'),
    },
  );
}

export function spawnPartition(parent: Ref<never>, name: string, deps: IngestDeps): Ref<PartitionMsg> {
  const bucketOf = (sensorId: string): number => fnv1a(sensorId) % deps.bucketCount;
  const split = <T>(items: Iterable<T>, id: (item: T) => string): (T[] | undefined)[] => {
    const per = new Array<T[] | undefined>(deps.bucketCount);
    for (const item of items) (per[bucketOf(id(item))] ??= []).push(item);
    return per;
  };
  return spawnActor(
    parent,
    name,
    (buckets: Ref<BucketMsg>[], msg: PartitionMsg, ctx): Ref<BucketMsg>[] => {
      if (buckets.length === 0) {
        for (let i = 0; i < deps.bucketCount; i++) buckets.push(spawnBucket(ctx.self, i, deps));
      }
      const each = <T>(
        per: (T[] | undefined)[],
        send: (bucket: Ref<BucketMsg>, items: T[]) => void,
      ): void => {
        per.forEach((items, i) => {
          const bucket = buckets[i];
          if (items !== undefined && bucket !== undefined) send(bucket, items);
        });
      };
      switch (msg.type) {
        case 'events':
          each(
            split(msg.groups, (g) => g[0]),
            (b, groups) => {
              tell(b, { type: 'events', groups, batch: msg.batch });
            },
          );
          break;
        case 'barrier':
          each(
            split(msg.sensors, (s) => s),
            (b, sensors) => {
              tell(b, { type: 'barrier', sensors, barrier: msg.barrier });
            },
          );
          break;
        case 'dormant':
          each(
            split(msg.sensorIds, (s) => s),
            (b, sensorIds) => {
              tell(b, { type: 'dormant', sensorIds });
            },
          );
          break;
        case 'list':
        case 'passivate':
          for (const b of buckets) tell(b, msg);
          break;
        case 'crash':
        case 'control':
        case 'inspect': {
          const bucket = buckets[bucketOf(msg.sensorId)];
          if (bucket !== undefined) tell(bucket, msg);
          else if (msg.type === 'inspect') msg.reply(undefined);
          break;
        }
      }
      return buckets;
    },
    { initialState: [] as Ref<BucketMsg>[], onCrash: escalate(deps, 'partition') },
  );
}
