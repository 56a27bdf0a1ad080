import { newOutputBuffer, type OutputBuffer } from './outputs.js';

/**
 * How far each list of an output buffer was filled: taken before an event is processed, so that the
 * partial outputs of an event that fails can be rolled back and nothing half-done is ever shipped or
 * written (raw readings and rollups included: they go into the next checkpoint).
 *
 * Every list of the buffer is marked, found by its keys: a list added to OutputBuffer later is
 * rolled back with the others without anyone having to remember it here (`raw` once was not).
 */
export type OutputMarks = readonly number[];

type ListKey = {
  [K in keyof OutputBuffer]: OutputBuffer[K] extends unknown[] ? K : never;
}[keyof OutputBuffer];

/** Every key of the buffer, each a list (checked: a key that is not a list fails to compile). */
const LISTS: readonly ListKey[] = Object.keys(
  newOutputBuffer(),
) as (keyof OutputBuffer)[] satisfies readonly ListKey[];

export function markOutputs(out: OutputBuffer): OutputMarks {
  const marks = new Array<number>(LISTS.length);
  for (let i = 0; i < LISTS.length; i++) marks[i] = out[LISTS[i] as ListKey].length;
  return marks;
}

/** Drops whatever was added to `out` since `marks` were taken. */
export function rollbackOutputs(out: OutputBuffer, marks: OutputMarks): void {
  for (let i = 0; i < LISTS.length; i++) (out[LISTS[i] as ListKey] as unknown[]).length = marks[i] as number;
}
