import { restoreSensor, type StoredSensor } from '../core/checkpoint.js';
import { SensorProcessor } from '../core/sensor.js';
import type { ActorActivity, BucketMsg, IngestDeps, PartitionMsg, SensorMsg } from './ingest-messages.js';
import { escalate } from './supervision.js';
import { spawnActor, stopActor, tell, type Ref } from './nact.js';
import { spawnSensor } from './sensor-actor.js';

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

/**
 * A bucket: the sensors that hash to it, active (spawned) or dormant (an id; the state is in the
 * store). It activates what a message needs in one store request, then routes.
 */
export function spawnBucket(parent: Ref<PartitionMsg>, index: number, deps: IngestDeps): Ref<BucketMsg> {
  return spawnActor(
    parent,
    `bucket-${index}`,
    async (bucket: Bucket | undefined, msg: BucketMsg, ctx): Promise<Bucket> => {
      const b = bucket ?? new Bucket(index, deps, ctx.self);
      await b.handle(msg);
      return b;
    },
    { initialState: undefined, onCrash: escalate(deps.logger, 'bucket') },
  );
}

class Bucket implements BucketState {
  readonly sensors = new Map<string, ActiveSensor>();
  readonly dormant = new Set<string>();

  constructor(
    private readonly index: number,
    private readonly deps: IngestDeps,
    private readonly self: Ref<BucketMsg>,
  ) {}

  async handle(msg: BucketMsg): Promise<void> {
    switch (msg.type) {
      case 'events': {
        const { activity } = msg.batch;
        await this.activate(
          msg.groups.map((g) => g[0]),
          activity,
        );
        for (const [sensorId, events] of msg.groups)
          tell(this.sensorRef(sensorId, activity), { type: 'events', events, batch: msg.batch });
        return;
      }
      case 'barrier':
        for (const sensorId of msg.sensors) {
          // A dormant sensor's state is already the checkpoint's: nothing to snapshot.
          const active = this.sensors.get(sensorId);
          if (active === undefined) msg.barrier.latch.done();
          else tell(active.ref, { type: 'barrier', barrier: msg.barrier });
        }
        return;
      case 'dormant':
        for (const sensorId of msg.sensorIds) if (!this.sensors.has(sensorId)) this.dormant.add(sensorId);
        return;
      case 'passivate':
        msg.answer.add({ passivated: passivate(this, msg.before), active: this.sensors.size });
        return;
      case 'crash': {
        const { sensorId, latch, activity } = msg;
        await this.activate([sensorId], activity);
        tell(this.sensorRef(sensorId, activity), { type: 'crash', latch, activity });
        return;
      }
      case 'control': {
        const { sensorId, command, out, latch, activity } = msg;
        await this.activate([sensorId], activity);
        tell(this.sensorRef(sensorId, activity), { type: 'control', command, out, latch });
        return;
      }
      case 'list':
        msg.answer.add([this.index, [...this.sensors.keys(), ...this.dormant]]);
        return;
      case 'inspect':
        await inspect(this, msg, this.deps);
        return;
    }
  }

  private spawn(sensorId: string, stored: StoredSensor | undefined): Ref<SensorMsg> {
    const { pipeline } = this.deps;
    const processor =
      stored === undefined
        ? new SensorProcessor(sensorId, pipeline)
        : restoreSensor(sensorId, pipeline, stored);
    const ref = spawnSensor(this.self, sensorId, processor, this.deps);
    this.sensors.set(sensorId, { ref, lastUsed: Date.now() });
    return ref;
  }

  /** Activates the dormant ones among `ids` (one store request for all of them). */
  private async activate(ids: Iterable<string>, activity: ActorActivity): Promise<void> {
    const wanted = [...ids].filter((id) => this.dormant.has(id));
    if (wanted.length === 0) return;
    const snapshots = await this.deps.loadSnapshots(wanted);
    for (const id of wanted) {
      this.dormant.delete(id);
      this.spawn(id, snapshots.get(id));
    }
    activity.spawned += wanted.length;
  }

  /** The active sensor's ref, spawning a sensor never seen. Dormant ones are activated first. */
  private sensorRef(sensorId: string, activity: ActorActivity): Ref<SensorMsg> {
    const active = this.sensors.get(sensorId);
    if (active !== undefined) {
      active.lastUsed = Date.now();
      return active.ref;
    }
    activity.spawned += 1;
    return this.spawn(sensorId, undefined);
  }
}

/** Stops the sensors idle since before `before`; they become dormant. Returns how many. */
function passivate(state: BucketState, before: number): number {
  let passivated = 0;
  for (const [sensorId, active] of state.sensors) {
    if (active.lastUsed >= before) continue;
    stopActor(active.ref);
    state.sensors.delete(sensorId);
    state.dormant.add(sensorId);
    passivated++;
  }
  return passivated;
}

/** A sensor's state: asked of its actor (in mailbox order), or read from the store when dormant. */
async function inspect(
  state: BucketState,
  msg: Extract<BucketMsg, { type: 'inspect' }>,
  deps: IngestDeps,
): Promise<void> {
  const live = state.sensors.get(msg.sensorId);
  if (live !== undefined) {
    tell(live.ref, { type: 'inspect', answer: msg.answer });
    return;
  }
  if (!state.dormant.has(msg.sensorId)) {
    msg.answer.add(undefined);
    return;
  }
  const stored = (await deps.loadSnapshots([msg.sensorId])).get(msg.sensorId);
  msg.answer.add(
    stored === undefined ? undefined : restoreSensor(msg.sensorId, deps.pipeline, stored).snapshot(),
  );
}
