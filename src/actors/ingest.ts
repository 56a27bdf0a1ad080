import type { OutputBuffer, DeadLetter } from '../core/outputs.js';
import type { Reading } from '../core/reading.js';
import { SensorProcessor, type SensorPipeline } from '../core/sensor.js';
import type { Logger } from '../log.js';
import type { Latch } from './latch.js';
import { actorName, fnv1a } from './names.js';
import { spawnActor, tell, type Ref, type SupervisionCtx } from './nact.js';

/**
 * The ingest hierarchy of one Kafka partition:
 *
 *   partition-<topic>-<n>   routes each batch's sensor groups to its buckets
 *     bucket-<k>            owns a few hundred sensors (nact copies the children map per message, so no
 *                           actor that handles every batch may have thousands of children)
 *       sensor-<id>         a thin shell around SensorProcessor (windows, watermark, rules)
 *
 * Every message of a batch carries the batch's output buffer and latch; a sensor writes what it
 * produced into the buffer and counts the latch down. The node ships the buffer when the latch opens.
 *
 * Supervision: a reading that makes a SensorProcessor throw is a poison record: it goes to the dead
 * letters with the error as its reason and the sensor carries on with the next reading (the sensor's
 * state is exactly as before that reading, since processing a reading mutates state only after its
 * checks pass). An error outside that guard (a bug in the shell) resumes the actor and is logged.
 */

export interface BatchContext {
  readonly out: OutputBuffer;
  readonly deadLetters: DeadLetter[];
  readonly latch: Latch;
  /** Reading -> where it came from, for dead letters of poison records. */
  readonly sourceOf: (reading: Reading) => DeadLetter['source'];
}

export interface SensorMsg {
  readonly readings: readonly Reading[];
  readonly batch: BatchContext;
}

export interface BucketMsg {
  readonly groups: ReadonlyArray<readonly [string, Reading[]]>;
  readonly batch: BatchContext;
}

export interface PartitionMsg {
  readonly groups: ReadonlyMap<string, Reading[]>;
  readonly batch: BatchContext;
}

export interface IngestDeps {
  readonly pipeline: SensorPipeline;
  readonly logger: Logger;
  readonly bucketCount: number;
}

function resumeAndLog(deps: IngestDeps, level: string) {
  return (_msg: unknown, err: unknown, ctx: SupervisionCtx): symbol => {
    deps.logger.error({ err, actor: ctx.path.toString() }, `${level} actor crashed; resuming`);
    return ctx.resume;
  };
}

function spawnSensor(parent: Ref<BucketMsg>, sensorId: string, deps: IngestDeps): Ref<SensorMsg> {
  return spawnActor(
    parent,
    actorName('sensor-', sensorId),
    (state: SensorProcessor, msg: SensorMsg): SensorProcessor => {
      const { batch } = msg;
      try {
        for (const reading of msg.readings) {
          try {
            state.process(reading, batch.out);
          } catch (err) {
            batch.deadLetters.push({
              source: batch.sourceOf(reading),
              key: Buffer.from(reading.sensorId),
              payload: Buffer.from(JSON.stringify(reading)),
              reason: `processing failed: ${(err as Error).message}`,
            });
          }
        }
      } finally {
        batch.latch.done();
      }
      return state;
    },
    { initialState: new SensorProcessor(sensorId, deps.pipeline), onCrash: resumeAndLog(deps, 'sensor') },
  );
}

function spawnBucket(parent: Ref<PartitionMsg>, index: number, deps: IngestDeps): Ref<BucketMsg> {
  return spawnActor(
    parent,
    `bucket-${index}`,
    (sensors: Map<string, Ref<SensorMsg>>, msg: BucketMsg, ctx): Map<string, Ref<SensorMsg>> => {
      for (const [sensorId, readings] of msg.groups) {
        let ref = sensors.get(sensorId);
        if (ref === undefined) {
          ref = spawnSensor(ctx.self, sensorId, deps);
          sensors.set(sensorId, ref);
        }
        tell(ref, { readings, batch: msg.batch });
      }
      return sensors;
    },
    { initialState: new Map<string, Ref<SensorMsg>>(), onCrash: resumeAndLog(deps, 'bucket') },
  );
}

export function spawnPartition(parent: Ref<never>, name: string, deps: IngestDeps): Ref<PartitionMsg> {
  return spawnActor(
    parent,
    name,
    (buckets: Ref<BucketMsg>[], msg: PartitionMsg, ctx): Ref<BucketMsg>[] => {
      if (buckets.length === 0) {
        for (let i = 0; i < deps.bucketCount; i++) buckets.push(spawnBucket(ctx.self, i, deps));
      }
      const perBucket = new Array<Array<readonly [string, Reading[]]> | undefined>(buckets.length);
      for (const entry of msg.groups) {
        const index = fnv1a(entry[0]) % buckets.length;
        (perBucket[index] ??= []).push(entry);
      }
      perBucket.forEach((groups, index) => {
        const bucket = buckets[index];
        if (groups !== undefined && bucket !== undefined) tell(bucket, { groups, batch: msg.batch });
      });
      return buckets;
    },
    { initialState: [] as Ref<BucketMsg>[], onCrash: resumeAndLog(deps, 'partition') },
  );
}
