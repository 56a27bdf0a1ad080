import type { AggregateName } from '../aggregate.js';
import type { Alert, Severity, WindowResult } from '../outputs.js';

interface RuleBase {
  readonly id: string;
  readonly severity: Severity;
  /** Labels of the rule's alerts (team, runbook, …). */
  readonly labels: Readonly<Record<string, string>>;
  /** Globs of the sensor ids the rule judges (core/glob.ts idGlob); absent: every sensor. */
  readonly sensors?: readonly string[];
  /** Labels a sensor must carry, every one, to be judged (`readings.sensorLabels` gives sensors labels). */
  readonly sensorLabels?: Readonly<Record<string, string>>;
  /**
   * The rule as it judges particular sensors, by id: the same rule with their own thresholds (the
   * config's `overrides`, resolved). Never nested: an override has no overrides or scope itself.
   */
  readonly overrides?: Readonly<Record<string, Rule>>;
}

/**
 * Fires when the metric is above `above` or below `below` (both: outside the band) for at least
 * `minDurationMs` of event time; resolves only once the value is back by more than `hysteresis`.
 */
export interface ThresholdRule extends RuleBase {
  readonly kind: 'threshold';
  readonly metric: string;
  readonly above?: number;
  readonly below?: number;
  readonly hysteresis: number;
  readonly minDurationMs: number;
}

/**
 * Fires when |value − mean| / stddev exceeds `zScore`. The distribution is either configured
 * (`mean`, `stddev`) or learned from the sensor's own in-time readings (after `minSamples`).
 */
export interface OutlierRule extends RuleBase {
  readonly kind: 'outlier';
  readonly metric: string;
  readonly zScore: number;
  readonly mean?: number;
  readonly stddev?: number;
  readonly minSamples: number;
}

/** Fires when the metric changes faster than `maxPerSecond` between consecutive readings (event time). */
export interface RateOfChangeRule extends RuleBase {
  readonly kind: 'rate-of-change';
  readonly metric: string;
  readonly maxPerSecond: number;
}

/** Fires when a closed window of `window` counts more than `above` readings carrying `metric`. */
export interface CountRule extends RuleBase {
  readonly kind: 'count';
  readonly window: string;
  readonly metric: string;
  readonly above: number;
}

/**
 * Fires when an aggregate of `metric` over a closed window of `window` is above `above` or below
 * `below` (both: outside the band) in consecutive windows spanning at least `minDurationMs` of event
 * time, the pending period that keeps one odd window from paging anyone; resolves once a window's value
 * is back by more than `hysteresis`. Windows with fewer than `minCount` readings of the metric say
 * nothing (the deviation of one reading is 0) and neither fire, resolve nor interrupt a pending period.
 * A firing alert resolves once windows within bounds back to back span `keepFiringForMs`.
 */
export interface AggregateRule extends RuleBase {
  readonly kind: 'aggregate';
  readonly window: string;
  readonly metric: string;
  readonly aggregate: AggregateName;
  readonly above?: number;
  readonly below?: number;
  readonly hysteresis: number;
  readonly minDurationMs: number;
  readonly keepFiringForMs: number;
  readonly minCount: number;
}

/** Fires when a sensor has sent nothing for `afterMs` of its partition's stream time. */
export interface SilenceRule extends RuleBase {
  readonly kind: 'silence';
  readonly afterMs: number;
}

export type Rule = ThresholdRule | OutlierRule | RateOfChangeRule | CountRule | AggregateRule | SilenceRule;

/** The rules that judge closed windows rather than single readings. */
export type WindowRule = CountRule | AggregateRule;

export interface AlertSink {
  push(alert: Alert): void;
}

export type { Alert, WindowResult };
