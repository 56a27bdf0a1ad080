import { describe, expect, it } from 'vitest';
import { alertId } from '../../src/core/alert-id.js';
import { evaluateThreshold, newRuleState, type ThresholdRule } from '../../src/core/rules.js';

const rule: ThresholdRule = {
  kind: 'threshold',
  id: 'hot',
  metric: 'temperature',
  above: 30,
  severity: 'warning',
  labels: { team: 'a' },
};

describe('threshold rule', () => {
  it('fires once per episode and resolves with the same episode start', () => {
    const state = newRuleState();
    expect(evaluateThreshold(rule, state, 's1', 1, 29)).toBeUndefined();
    const firing = evaluateThreshold(rule, state, 's1', 2, 31);
    expect(firing).toMatchObject({
      state: 'firing',
      ts: 2,
      startedAt: 2,
      value: 31,
      severity: 'warning',
      labels: { team: 'a' },
    });
    expect(firing?.id).toBe(alertId('hot', 's1', 2, 'firing'));
    expect(evaluateThreshold(rule, state, 's1', 3, 35)).toBeUndefined();
    const resolved = evaluateThreshold(rule, state, 's1', 4, 30);
    expect(resolved).toMatchObject({ state: 'resolved', ts: 4, startedAt: 2, value: 30 });
    expect(resolved?.id).toBe(alertId('hot', 's1', 2, 'resolved'));
  });

  it('supports below and bands', () => {
    const band: ThresholdRule = { ...rule, id: 'band', above: 10, below: 0 };
    const state = newRuleState();
    expect(evaluateThreshold(band, state, 's', 1, -1)?.message).toContain('below 0');
    expect(evaluateThreshold(band, state, 's', 2, 5)?.state).toBe('resolved');
    expect(evaluateThreshold(band, state, 's', 3, 11)?.message).toContain('above 10');
  });

  it('alert ids are deterministic and differ by every input', () => {
    const id = alertId('r', 's', 1, 'firing');
    expect(alertId('r', 's', 1, 'firing')).toBe(id);
    expect(
      new Set([
        id,
        alertId('r2', 's', 1, 'firing'),
        alertId('r', 's2', 1, 'firing'),
        alertId('r', 's', 2, 'firing'),
        alertId('r', 's', 1, 'resolved'),
      ]).size,
    ).toBe(5);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});
