import type { AggregateName } from './aggregate.js';
import type { AccumulatorSnapshot } from './aggregate.js';
import type { Reading } from './reading.js';

/** A closed minute of one metric of one sensor, with its full accumulator, for the Redis rollups. */
export interface RollupRecord {
  readonly sensorId: string;
  readonly metric: string;
  readonly minute: number;
  readonly acc: AccumulatorSnapshot;
}

/** One closed window of one metric of one sensor, as produced to vigil.aggregates (key = sensorId). */
export interface WindowResult extends Partial<Record<AggregateName, number>> {
  /** Deterministic: the same input always yields the same id, so sinks can deduplicate replays. */
  readonly id: string;
  readonly sensorId: string;
  readonly metric: string;
  /** The window spec's name from the config, e.g. `tumbling-10s`. */
  readonly window: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  /** Texts of some readings counted (log lines), when the pipeline keeps exemplars for the metric. */
  readonly exemplars?: readonly string[];
  /** Exemplars left out beyond the configured maximum. */
  readonly exemplarsOmitted?: number;
}

/**
 * What a count rule saw when it fired: the whole window's counts per metric and the exemplars of the
 * rule's metric (for a log source: its lines per level and its ERROR lines).
 */
export interface AlertReport {
  readonly window: string;
  readonly start: number;
  readonly end: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly lines: readonly string[];
  readonly linesOmitted: number;
}

export type Severity = 'info' | 'warning' | 'critical';
export type AlertState = 'firing' | 'resolved';

/** An alert as produced to vigil.alerts (key = sensorId). */
export interface Alert {
  /** Deterministic: hash of rule, sensor, the event time the episode started, and the state. */
  readonly id: string;
  readonly ruleId: string;
  /** The rule's kind: threshold, outlier, rate-of-change, count or silence. */
  readonly kind: string;
  readonly sensorId: string;
  readonly metric: string;
  readonly state: AlertState;
  readonly severity: Severity;
  /** Event time of the reading that caused this transition. */
  readonly ts: number;
  /** Event time the episode began (equal to ts for a firing alert). */
  readonly startedAt: number;
  readonly value: number;
  readonly message: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Present on the firing alert of a count rule: the window behind it. */
  readonly report?: AlertReport;
}

/** A reading that arrived after its window had closed, as produced to vigil.late. */
export interface LateRecord {
  readonly reading: Reading;
  readonly reason: string;
  readonly watermark: number;
}

/** A reading the sensor could not take (over a limit of its own, not of the record): a dead letter. */
export interface RefusedReading {
  readonly reading: Reading;
  readonly reason: string;
}

/** Where a processor puts what it produces; the caller decides when and how to ship it. */
export interface OutputBuffer {
  readonly windowResults: WindowResult[];
  readonly alerts: Alert[];
  readonly late: LateRecord[];
  /** Closed minutes for the Redis rollups; written inside the next checkpoint. */
  readonly rollups: RollupRecord[];
  /** Readings taken into the rollups, kept raw inside the next checkpoint (core/raw-minutes.ts). */
  readonly raw: Reading[];
  /** Readings dropped as repeats (counted, not shipped). */
  readonly duplicates: Reading[];
  /** Readings refused (limits.maxMetricsPerSensor): dead letters with their reason. */
  readonly refused: RefusedReading[];
  /** Paused sensors that resumed by themselves because their hold was full. */
  readonly resumed: string[];
}

export function newOutputBuffer(): OutputBuffer {
  return {
    windowResults: [],
    alerts: [],
    late: [],
    rollups: [],
    raw: [],
    duplicates: [],
    refused: [],
    resumed: [],
  };
}

export function windowResultId(sensorId: string, window: string, metric: string, start: number): string {
  return `${sensorId}/${window}/${metric}/${start}`;
}

/** Where a record came from: enough to find it again in the source log. */
export interface RecordSource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** A record that could not be accepted, kept with its original bytes and the reason, for vigil.dlq. */
export interface DeadLetter {
  readonly source: RecordSource;
  readonly key: Buffer | null;
  readonly payload: Buffer | null;
  readonly reason: string;
}

/** A record to append to a topic; its partition is chosen from the key (Kafka's default partitioner). */
export interface OutgoingRecord {
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, string>>;
}
