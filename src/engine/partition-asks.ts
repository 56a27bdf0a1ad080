import { newActivity, type ActorActivity } from '../actors/ingest-messages.js';
import { Gather, Latch } from '../actors/latch.js';
import { actorName } from '../actors/names.js';
import { tell, type Ref } from '../actors/nact.js';
import type { PartitionMsg } from '../actors/partition-actor.js';
import type { SensorStateWrite } from '../core/checkpoint.js';
import type { SensorSnapshot } from '../core/sensor.js';

/**
 * What a partition worker asks of its actors besides batches and barriers: each a message and the
 * completion it waits on (answers come through it, never through a parent's mailbox).
 */

/** A sensor's current state, in mailbox order (undefined: the partition has never seen it). */
export async function askInspect(
  actor: Ref<PartitionMsg>,
  sensorId: string,
): Promise<SensorSnapshot | undefined> {
  const answer = new Gather<SensorSnapshot | undefined>(1);
  tell(actor, { type: 'inspect', sensorId, answer });
  return (await answer.promise)[0];
}

/** The actor paths of the partition's sensors (active and dormant), in mailbox order. */
export async function askList(actor: Ref<PartitionMsg>, name: string, buckets: number): Promise<string[]> {
  const answer = new Gather<readonly [number, readonly string[]]>(buckets);
  tell(actor, { type: 'list', answer });
  const paths: string[] = [name];
  for (const [bucket, sensorIds] of await answer.promise)
    for (const id of sensorIds) paths.push(`${name}/bucket-${bucket}/${actorName('sensor-', id)}`);
  return paths;
}

/** Makes the sensors idle since `before` dormant; how many were, and how many stay active. */
export async function askPassivate(
  actor: Ref<PartitionMsg>,
  before: number,
  buckets: number,
): Promise<{ passivated: number; active: number }> {
  const answer = new Gather<{ readonly passivated: number; readonly active: number }>(buckets);
  tell(actor, { type: 'passivate', before, answer });
  const counts = await answer.promise;
  return {
    passivated: counts.reduce((n, c) => n + c.passivated, 0),
    active: counts.reduce((n, c) => n + c.active, 0),
  };
}

/**
 * Sends a command for one sensor and waits for it to be carried out. `activity` tells what the actors
 * did on the way (whether the command failed or not).
 */
export async function askCommand(
  actor: Ref<PartitionMsg>,
  msg: (latch: Latch, activity: ActorActivity) => PartitionMsg,
): Promise<{ readonly activity: ActorActivity; readonly error?: unknown }> {
  const latch = new Latch(1);
  const activity = newActivity();
  tell(actor, msg(latch, activity));
  try {
    await latch.promise;
    return { activity };
  } catch (error) {
    return { activity, error };
  }
}

/**
 * A checkpoint's barrier: each of `sensors` snapshots what the checkpoint writes of it, in mailbox
 * order after the batches before. `failed`: an actor escalated (the partition must reset).
 */
export async function askBarrier(
  actor: Ref<PartitionMsg>,
  sensors: readonly string[],
): Promise<{ readonly snapshots: Map<string, SensorStateWrite>; readonly failed?: unknown }> {
  const snapshots = new Map<string, SensorStateWrite>();
  const latch = new Latch(sensors.length);
  if (sensors.length > 0) tell(actor, { type: 'barrier', sensors, barrier: { snapshots, latch } });
  try {
    await latch.promise;
    return { snapshots };
  } catch (failed) {
    return { snapshots, failed };
  }
}
