import { alertId } from './alert-id.js';
import type { Alert, Severity } from './outputs.js';

/** Fires when a reading's metric goes above `above` or below `below`; resolves when it is back inside. */
export interface ThresholdRule {
  readonly kind: 'threshold';
  readonly id: string;
  readonly metric: string;
  readonly above?: number;
  readonly below?: number;
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
}

export type Rule = ThresholdRule;

/**
 * Per-sensor state of one rule. Two states:
 *   ok      --value outside the band-->  firing (emit `firing`, remember when the episode started)
 *   firing  --value back in the band-->  ok     (emit `resolved` with the same episode start)
 * While firing, further out-of-band readings emit nothing: one episode, one firing alert.
 */
export interface RuleState {
  firingSince: number | undefined;
}

export function newRuleState(): RuleState {
  return { firingSince: undefined };
}

function breach(rule: ThresholdRule, value: number): string | undefined {
  if (rule.above !== undefined && value > rule.above) return `above ${rule.above}`;
  if (rule.below !== undefined && value < rule.below) return `below ${rule.below}`;
  return undefined;
}

/** Evaluates one reading's value; returns the alert of a state change, if any. */
export function evaluateThreshold(
  rule: ThresholdRule,
  state: RuleState,
  sensorId: string,
  ts: number,
  value: number,
): Alert | undefined {
  const why = breach(rule, value);
  if (why !== undefined && state.firingSince === undefined) {
    state.firingSince = ts;
    return {
      id: alertId(rule.id, sensorId, ts, 'firing'),
      ruleId: rule.id,
      sensorId,
      metric: rule.metric,
      state: 'firing',
      severity: rule.severity,
      ts,
      startedAt: ts,
      value,
      message: `${rule.metric} of ${sensorId} is ${value}, ${why}`,
      labels: rule.labels,
    };
  }
  if (why === undefined && state.firingSince !== undefined) {
    const startedAt = state.firingSince;
    state.firingSince = undefined;
    return {
      id: alertId(rule.id, sensorId, startedAt, 'resolved'),
      ruleId: rule.id,
      sensorId,
      metric: rule.metric,
      state: 'resolved',
      severity: rule.severity,
      ts,
      startedAt,
      value,
      message: `${rule.metric} of ${sensorId} is back to ${value}`,
      labels: rule.labels,
    };
  }
  return undefined;
}
