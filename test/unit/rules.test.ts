import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import { alertId } from '../../src/core/alert-id.js';
import type { Alert } from '../../src/core/outputs.js';
import { SensorRules, silenceThresholds } from '../../src/core/rules/evaluate.js';
import type { Rule, ThresholdRule } from '../../src/core/rules/types.js';

const base = { severity: 'warning' as const, labels: { team: 'a' } };
const hot: ThresholdRule = {
  ...base,
  kind: 'threshold',
  id: 'hot',
  metric: 't',
  above: 30,
  hysteresis: 0,
  minDurationMs: 0,
};

function run(rules: Rule[], readings: [number, number][], metric = 't'): Alert[] {
  const sr = new SensorRules('s1', () => rules);
  const out: Alert[] = [];
  for (const [ts, v] of readings) sr.onReading({ sensorId: 's1', ts, values: { [metric]: v } }, out);
  return out;
}

const brief = (alerts: Alert[]): [string, number, number][] =>
  alerts.map((a) => [a.state, a.ts, a.startedAt]);

describe('threshold rule', () => {
  it('fires once per episode and resolves with the same episode start', () => {
    const alerts = run(
      [hot],
      [
        [1, 29],
        [2, 31],
        [3, 35],
        [4, 30],
      ],
    );
    expect(brief(alerts)).toEqual([
      ['firing', 2, 2],
      ['resolved', 4, 2],
    ]);
    expect(alerts[0]).toMatchObject({
      id: alertId('hot', 's1', 2, 'firing'),
      kind: 'threshold',
      value: 31,
      labels: { team: 'a' },
    });
    expect(alerts[1]?.id).toBe(alertId('hot', 's1', 2, 'resolved'));
  });

  it('with hysteresis, resolves only once the value is back by more than the margin', () => {
    const alerts = run(
      [{ ...hot, hysteresis: 2 }],
      [
        [1, 31],
        [2, 29],
        [3, 28.5],
        [4, 28],
      ],
    );
    expect(brief(alerts)).toEqual([
      ['firing', 1, 1],
      ['resolved', 4, 1],
    ]);
  });

  it('with a minimum duration, fires only when the breach has lasted that long', () => {
    const rule = { ...hot, minDurationMs: 10 };
    expect(
      run(
        [rule],
        [
          [0, 31],
          [5, 32],
          [8, 20],
          [9, 31],
          [15, 31],
        ],
      ),
    ).toEqual([]);
    const alerts = run(
      [rule],
      [
        [0, 31],
        [5, 32],
        [10, 33],
      ],
    );
    expect(brief(alerts)).toEqual([['firing', 10, 0]]);
    expect(alerts[0]?.message).toContain('for 10 ms');
  });

  it('covers below and outside-the-band', () => {
    const band: ThresholdRule = { ...hot, id: 'band', above: 10, below: 0 };
    const alerts = run(
      [band],
      [
        [1, -1],
        [2, 5],
        [3, 11],
      ],
    );
    expect(alerts.map((a) => [a.state, a.message.split(', ')[1]])).toEqual([
      ['firing', 'below 0'],
      ['resolved', undefined],
      ['firing', 'above 10'],
    ]);
  });
});

describe('outlier rule', () => {
  it('judges a configured distribution', () => {
    const rule: Rule = {
      ...base,
      kind: 'outlier',
      id: 'o',
      metric: 't',
      zScore: 3,
      mean: 25,
      stddev: 2,
      minSamples: 30,
    };
    expect(
      brief(
        run(
          [rule],
          [
            [1, 26],
            [2, 32],
            [3, 33],
            [4, 25],
          ],
        ),
      ),
    ).toEqual([
      ['firing', 2, 2],
      ['resolved', 4, 2],
    ]);
  });

  it('learns the distribution after minSamples and judges each value before learning it', () => {
    const rule: Rule = { ...base, kind: 'outlier', id: 'o', metric: 't', zScore: 3, minSamples: 10 };
    const readings: [number, number][] = Array.from({ length: 10 }, (_, i) => [i, i % 2 === 0 ? 9 : 11]);
    expect(run([rule], [...readings.slice(0, 5), [5, 1000]])).toEqual([]); // not enough samples yet
    const alerts = run([rule], [...readings, [10, 14], [11, 10]]);
    expect(brief(alerts)).toEqual([
      ['firing', 10, 10],
      ['resolved', 11, 10],
    ]);
    expect(alerts[0]?.message).toContain('learned mean 10.000, stddev 1.000');
  });
});

describe('rate-of-change rule', () => {
  it('fires when the slope between consecutive readings passes the limit', () => {
    const rule: Rule = { ...base, kind: 'rate-of-change', id: 'r', metric: 't', maxPerSecond: 1 };
    const alerts = run(
      [rule],
      [
        [0, 10],
        [1_000, 10.5],
        [2_000, 13],
        [1_500, 0],
        [3_000, 13.2],
      ],
    );
    expect(brief(alerts)).toEqual([
      ['firing', 2_000, 2_000],
      ['resolved', 3_000, 2_000],
    ]);
  });
});

describe('count rule', () => {
  it('fires on a window with more than N readings and resolves on the next window at or below N', () => {
    const rule: Rule = {
      ...base,
      kind: 'count',
      id: 'errors',
      window: 'tumbling-1m',
      metric: 'ERROR',
      above: 1,
    };
    const sr = new SensorRules('app', () => [rule]);
    const out: Alert[] = [];
    const result = (start: number, metric: string, count: number, exemplars?: string[]) => ({
      id: `app/tumbling-1m/${metric}/${start}`,
      sensorId: 'app',
      metric,
      window: 'tumbling-1m',
      start,
      end: start + 60_000,
      count,
      ...(exemplars === undefined ? {} : { exemplars, exemplarsOmitted: 0 }),
    });
    const closed = (window: string, start: number, results: ReturnType<typeof result>[]) => {
      sr.onWindowClosed(window, start, start + 60_000, results, out);
    };
    closed('tumbling-1m', 0, [result(0, 'ERROR', 1), result(0, 'INFO', 40)]);
    closed('tumbling-1m', 60_000, [result(60_000, 'ERROR', 2, ['e1', 'e2']), result(60_000, 'WARN', 9)]);
    closed('other', 60_000, [result(60_000, 'ERROR', 9)]);
    closed('tumbling-1m', 120_000, [result(120_000, 'ERROR', 5)]);
    // No ERROR line at all in this window: it counts as 0 and ends the episode.
    closed('tumbling-1m', 180_000, [result(180_000, 'INFO', 3)]);
    expect(out.map((a) => [a.state, a.startedAt, a.value])).toEqual([
      ['firing', 60_000, 2],
      ['resolved', 60_000, 0],
    ]);
    expect(out[0]?.report).toEqual({
      window: 'tumbling-1m',
      start: 60_000,
      end: 120_000,
      counts: { ERROR: 2, WARN: 9 },
      lines: ['e1', 'e2'],
      linesOmitted: 0,
    });
    expect(out[1]?.report).toBeUndefined();
  });
});

describe('silence rule', () => {
  it('fires once after the silence and resolves when the sensor reports again', () => {
    const rule: Rule = { ...base, kind: 'silence', id: 'quiet', afterMs: 60_000 };
    const sr = new SensorRules('s1', () => [rule]);
    const out: Alert[] = [];
    sr.onSilence(50_000, 0, 0, out);
    sr.onSilence(60_000, 0, 0, out);
    sr.onSilence(70_000, 0, 0, out);
    sr.onActivity(75_000, out);
    sr.onActivity(76_000, out);
    expect(out.map((a) => [a.state, a.startedAt, a.ts])).toEqual([
      ['firing', 0, 60_000],
      ['resolved', 0, 75_000],
    ]);
    expect(silenceThresholds([rule, { ...rule, id: 'long', afterMs: 300_000 }, rule])).toEqual([
      60_000, 300_000,
    ]);
  });
});

describe('rule state', () => {
  it('survives a snapshot and is reset when a rule changes kind', () => {
    let rules: Rule[] = [hot];
    const sr = new SensorRules('s1', () => rules);
    const out: Alert[] = [];
    sr.onReading({ sensorId: 's1', ts: 1, values: { t: 40 } }, out);
    const back = new SensorRules('s1', () => rules).restore(roundTrip(sr.snapshot()));
    back.onReading({ sensorId: 's1', ts: 2, values: { t: 20 } }, out);
    expect(out.map((a) => a.state)).toEqual(['firing', 'resolved']);
    rules = [{ ...base, kind: 'rate-of-change', id: 'hot', metric: 't', maxPerSecond: 1 }]; // replaced at run time
    back.onReading({ sensorId: 's1', ts: 3, values: { t: 20 } }, out);
    expect(out).toHaveLength(2);
    rules = [];
    expect(back.snapshot()).toEqual([]); // state of removed rules is dropped
  });

  it('alert ids are deterministic and differ by every input', () => {
    const id = alertId('r', 's', 1, 'firing');
    expect(alertId('r', 's', 1, 'firing')).toBe(id);
    const others = [
      alertId('r2', 's', 1, 'firing'),
      alertId('r', 's2', 1, 'firing'),
      alertId('r', 's', 2, 'firing'),
      alertId('r', 's', 1, 'resolved'),
    ];
    expect(new Set([id, ...others]).size).toBe(5);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});
