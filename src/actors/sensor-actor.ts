import { encodeSensorCheckpoint, restoreSensor } from '../core/checkpoint.js';
import { sourceOf } from '../core/router.js';
import { SensorProcessor } from '../core/sensor.js';
import { poisonLetter, rebuild, runEvents, type SensorRun } from '../core/sensor-recovery.js';
import type { ActorActivity, BucketMsg, IngestDeps, SensorMsg } from './ingest-messages.js';
import { escalate } from './supervision.js';
import { actorName } from './names.js';
import { spawnActor, type Ref } from './nact.js';

/**
 * A sensor actor: a thin shell around SensorProcessor. It routes each message to the core and does
 * the one asynchronous step supervision needs: loading the last checkpoint to rebuild from after a
 * poison event or an injected crash (core/sensor-recovery.ts decides the rest).
 */
export function spawnSensor(
  parent: Ref<BucketMsg>,
  sensorId: string,
  initial: SensorProcessor,
  deps: IngestDeps,
): Ref<SensorMsg> {
  /** Rebuilds the processor from the last checkpoint plus the events since. */
  const recover = async (run: SensorRun, reason: string, activity: ActorActivity): Promise<void> => {
    const stored = (await deps.loadSnapshots([sensorId])).get(sensorId);
    rebuild(
      run,
      stored === undefined
        ? new SensorProcessor(sensorId, deps.pipeline)
        : restoreSensor(sensorId, deps.pipeline, stored),
    );
    activity.recovered.push({ sensorId, reason });
  };

  const onEvents = async (
    run: SensorRun,
    msg: Extract<SensorMsg, { type: 'events' }>,
  ): Promise<SensorRun> => {
    const { batch, events } = msg;
    let from = 0;
    for (;;) {
      const outcome = runEvents(run, events, from, batch.out);
      if (!outcome.poisoned) break;
      const event = events[outcome.index];
      const letter =
        event === undefined || 'tick' in event
          ? undefined
          : poisonLetter(sensorId, event, sourceOf(batch.sources, event), outcome.reason);
      if (letter !== undefined) batch.deadLetters.push(letter);
      await recover(run, outcome.reason, batch.activity);
      from = outcome.index + 1;
    }
    batch.latch.done();
    return run;
  };

  return spawnActor(
    parent,
    actorName('sensor-', sensorId),
    (run: SensorRun, msg: SensorMsg): SensorRun | Promise<SensorRun> => {
      switch (msg.type) {
        case 'events':
          return onEvents(run, msg);
        case 'barrier':
          msg.barrier.snapshots.set(sensorId, encodeSensorCheckpoint(run.processor.checkpoint()));
          run.since = [];
          msg.barrier.latch.done();
          return run;
        case 'crash':
          // Fault injection: the same path as a processing crash, without a poison record.
          return recover(run, 'injected crash', msg.activity).then(() => {
            msg.latch.done();
            return run;
          });
        case 'inspect':
          // In mailbox order: the snapshot reflects every event handed to this sensor before.
          msg.answer.add(run.processor.snapshot());
          return run;
        case 'control':
          if (msg.command === 'pause') run.processor.pause();
          else run.processor.resume(msg.out);
          msg.latch.done();
          return run;
      }
    },
    { initialState: { processor: initial, since: [] }, onCrash: escalate(deps.logger, 'sensor') },
  );
}
