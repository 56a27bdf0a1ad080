import type { OutputBuffer } from './outputs.js';

/**
 * How far each list of an output buffer was filled: taken before an event is processed, so that the
 * partial outputs of an event that fails can be rolled back and nothing half-done is ever shipped.
 * (`resumed` is left out: it names sensors, and a failed event resumes nothing.)
 */
export type OutputMarks = readonly [number, number, number, number, number];

export function markOutputs(out: OutputBuffer): OutputMarks {
  return [
    out.windowResults.length,
    out.alerts.length,
    out.late.length,
    out.rollups.length,
    out.duplicates.length,
  ];
}

/** Drops whatever was added to `out` since `marks` were taken. */
export function rollbackOutputs(out: OutputBuffer, marks: OutputMarks): void {
  out.windowResults.length = marks[0];
  out.alerts.length = marks[1];
  out.late.length = marks[2];
  out.rollups.length = marks[3];
  out.duplicates.length = marks[4];
}
