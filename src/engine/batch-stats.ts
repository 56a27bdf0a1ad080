import type { ActorActivity } from '../actors/ingest-messages.js';
import type { OutputBuffer } from '../core/outputs.js';
import type { RoutedBatch } from '../core/router.js';
import type { Logger } from '../obs/logger.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { EngineStats } from './stats.js';

/** Where a partition's batches are counted. */
export interface BatchCounters {
  readonly stats: EngineStats;
  readonly metrics?: NodeMetrics | undefined;
  readonly logger: Logger;
  readonly topic: string;
  /** engine.maxHeldPerSensor, for the log line of a sensor that resumed by itself. */
  readonly maxHeldEvents: number;
}

/** What one processed batch adds to the engine's counters and the node's metrics, and what it logs. */
export function countBatch(c: BatchCounters, records: number, routed: RoutedBatch, out: OutputBuffer): void {
  const { topic, maxHeldEvents } = c;
  const m = c.metrics;
  if (m !== undefined) {
    m.recordsIn.inc({ topic }, records);
    const dead = routed.deadLetters.length + out.refused.length;
    if (dead > 0) m.deadLetters.inc({ source: 'engine' }, dead);
    if (out.late.length > 0) m.late.inc(out.late.length);
    if (out.duplicates.length > 0) m.duplicates.inc({ topic }, out.duplicates.length);
    for (const a of out.alerts) m.alerts.inc({ rule: a.ruleId, state: a.state });
  }
  const s = c.stats;
  s.records += records;
  s.batches += 1;
  s.deadLetters += routed.deadLetters.length + out.refused.length;
  s.windowResults += out.windowResults.length;
  s.alerts += out.alerts.length;
  s.late += out.late.length;
  s.duplicates += out.duplicates.length;
  s.autoResumes += out.resumed.length;
  for (const sensorId of out.resumed)
    c.logger.warn(
      { sensorId, held: maxHeldEvents },
      'paused sensor resumed by itself: its hold is full (engine.maxHeldPerSensor)',
    );
}

/** Sensors restored from their checkpoint during a step: counted and logged. */
export function countRecoveries(
  c: { readonly stats: EngineStats; readonly logger: Logger },
  activity: ActorActivity,
): void {
  for (const { sensorId, reason } of activity.recovered) {
    c.stats.recoveries += 1;
    c.logger.warn({ sensorId, reason }, 'sensor restored from its last checkpoint');
  }
}
