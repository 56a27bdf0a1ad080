import { markOutputs, rollbackOutputs } from './output-marks.js';
import { newOutputBuffer, type DeadLetter, type OutputBuffer, type RecordSource } from './outputs.js';
import type { Reading } from './reading.js';
import type { SensorEvent, SensorProcessor } from './sensor.js';

/**
 * What supervision of one sensor needs to know, free of actors: the sensor's processor and the events
 * it handled since its last barrier (what a restore from the last checkpoint must replay).
 *
 * A POISON event is one whose processing throws. Its partial outputs are rolled back; it becomes a
 * dead letter (a reading; a clock tick is simply dropped); the processor, whose state may be half
 * changed, is rebuilt from the last checkpoint plus the events since (`rebuild`), and processing goes
 * on with the next event. Other sensors never notice. The actor does the one asynchronous step in
 * between: loading the checkpoint.
 */
export interface SensorRun {
  processor: SensorProcessor;
  /** Events processed since the last barrier, in order. */
  since: SensorEvent[];
}

export type RunOutcome =
  { readonly poisoned: false } | { readonly poisoned: true; readonly index: number; readonly reason: string };

/** Processes `events[from..]` in order into `out`, until one throws (see SensorRun). */
export function runEvents(
  run: SensorRun,
  events: readonly SensorEvent[],
  from: number,
  out: OutputBuffer,
): RunOutcome {
  for (let i = from; i < events.length; i++) {
    const event = events[i] as SensorEvent;
    const marks = markOutputs(out);
    try {
      run.processor.process(event, out);
      run.since.push(event);
    } catch (err) {
      rollbackOutputs(out, marks);
      return { poisoned: true, index: i, reason: `processing failed: ${(err as Error).message}` };
    }
  }
  return { poisoned: false };
}

/**
 * The processor as it was after the events since the last barrier: `restored` (the checkpoint's
 * state, or a new processor) with them replayed. Their outputs were produced before, so the replay's
 * are dropped.
 */
export function rebuild(run: SensorRun, restored: SensorProcessor): void {
  const discard = newOutputBuffer();
  for (const e of run.since) restored.process(e, discard);
  run.processor = restored;
}

/** The dead letter of a poison event: a reading keeps its bytes as JSON; a clock tick has none. */
export function poisonLetter(
  sensorId: string,
  event: SensorEvent,
  source: RecordSource,
  reason: string,
): DeadLetter | undefined {
  if ('tick' in event) return undefined;
  return {
    source,
    key: Buffer.from(sensorId),
    payload: Buffer.from(JSON.stringify(event satisfies Reading)),
    reason,
  };
}
