import { newActivity, type ActorActivity } from '../actors/ingest-messages.js';
import { Latch } from '../actors/latch.js';
import { tell, type Ref } from '../actors/nact.js';
import type { PartitionMsg } from '../actors/partition-actor.js';
import { newOutputBuffer, type OutputBuffer } from '../core/outputs.js';
import { routeBatch, sourceOf, type RawRecord, type Route, type RoutedBatch } from '../core/router.js';
import type { FrequencyCounter } from './frequencies.js';
import type { OutputWriter } from './output-writer.js';

/** What one step of a batch did: its routing, what it produced, what the actors did on the way. */
export interface StepResult {
  readonly routed: RoutedBatch;
  readonly out: OutputBuffer;
  readonly activity: ActorActivity;
  /** Why the actors failed the step (the partition must reset); undefined when it went through. */
  readonly failed?: unknown;
}

/**
 * One step of a batch: route its records (core/router.ts), hand the sensor groups to the partition's
 * actors and wait for them, then ship every output of the step (window results, alerts, late records,
 * dead letters, forwards) in one produce request, before the step counts as done.
 */
export async function runStep(
  actor: Ref<PartitionMsg>,
  route: Route,
  records: readonly RawRecord[],
  ports: { readonly outputs: OutputWriter; readonly frequencies: FrequencyCounter },
): Promise<StepResult> {
  const routed = routeBatch(records, route);
  ports.frequencies.add(routed.groups);
  const out = newOutputBuffer();
  const activity = newActivity();
  if (routed.groups.size > 0) {
    const latch = new Latch(routed.groups.size);
    const { deadLetters, sources } = routed;
    tell(actor, {
      type: 'events',
      groups: routed.groups,
      batch: { out, deadLetters, latch, sources, activity },
    });
    try {
      await latch.promise;
    } catch (err) {
      return { routed, out, activity, failed: err };
    }
  }
  await ports.outputs.send(out, routed.deadLetters, (reading) => sourceOf(routed.sources, reading), {
    topic: route.topic,
    records: routed.forwards,
  });
  return { routed, out, activity };
}
