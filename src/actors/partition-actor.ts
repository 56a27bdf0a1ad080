import type { BucketMsg, IngestDeps, PartitionMsg } from './ingest-messages.js';
import { spawnBucket } from './bucket-actor.js';
import { escalate } from './supervision.js';
import { fnv1a } from './names.js';
import { spawnActor, tell, type Ref } from './nact.js';

export type {
  BatchContext,
  BarrierContext,
  BucketMsg,
  IngestDeps,
  PartitionMsg,
  SensorMsg,
} from './ingest-messages.js';

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
 * per window (docs/decisions/0001-windows-inside-the-sensor-actor.md).
 *
 * Answers come back through the completion a message carries (a Latch counted down by every sensor
 * of a step, or a Gather of answers), never through the parent's mailbox: thousands of sensors
 * replying to one bucket would each copy its children map (docs/decisions/0003-latches.md).
 *
 * Supervision, per level (decided here, never nact's default of logging and stopping):
 *   sensor     a reading that throws is a poison record: its partial outputs are discarded, it goes to
 *              the dead letters with the error, and the sensor is RESTORED from its last checkpoint
 *              and replays the events it had since (core/sensor-recovery.ts), then carries on. Other
 *              sensors never notice. If the restore itself fails: ESCALATE (the step fails).
 *   bucket     any error: ESCALATE (fail the step's completion); the actor stops.
 *   partition  any error: ESCALATE; the partition worker then resets the whole partition: a new
 *              epoch, restore from the checkpoint, and replay from its offset.
 */
export function spawnPartition(parent: Ref<never>, name: string, deps: IngestDeps): Ref<PartitionMsg> {
  const bucketOf = (sensorId: string): number => fnv1a(sensorId) % deps.bucketCount;
  /** Splits items by bucket, and tells each bucket that has some. */
  const fanOut = <T>(
    buckets: readonly Ref<BucketMsg>[],
    items: Iterable<T>,
    id: (item: T) => string,
    send: (bucket: Ref<BucketMsg>, items: T[]) => void,
  ): void => {
    const per = new Array<T[] | undefined>(deps.bucketCount);
    for (const item of items) (per[bucketOf(id(item))] ??= []).push(item);
    per.forEach((list, i) => {
      const bucket = buckets[i];
      if (list !== undefined && bucket !== undefined) send(bucket, list);
    });
  };
  return spawnActor(
    parent,
    name,
    (buckets: Ref<BucketMsg>[], msg: PartitionMsg, ctx): Ref<BucketMsg>[] => {
      if (buckets.length === 0) {
        for (let i = 0; i < deps.bucketCount; i++) buckets.push(spawnBucket(ctx.self, i, deps));
      }
      switch (msg.type) {
        case 'events':
          fanOut(
            buckets,
            msg.groups,
            (g) => g[0],
            (b, groups) => {
              tell(b, { type: 'events', groups, batch: msg.batch });
            },
          );
          break;
        case 'barrier':
          fanOut(
            buckets,
            msg.sensors,
            (s) => s,
            (b, sensors) => {
              tell(b, { type: 'barrier', sensors, barrier: msg.barrier });
            },
          );
          break;
        case 'dormant':
          fanOut(
            buckets,
            msg.sensorIds,
            (s) => s,
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
          break;
        }
      }
      return buckets;
    },
    { initialState: [] as Ref<BucketMsg>[], onCrash: escalate(deps.logger, 'partition') },
  );
}
