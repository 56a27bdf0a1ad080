import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import { alertId } from '../../src/core/alert-id.js';
import type { Alert } from '../../src/core/outputs.js';
import { silenceThresholds } from '../../src/core/rules/evaluate.js';
import { SensorRules } from '../../src/core/rules/sensor-rules.js';
import type { AggregateRule, Rule, ThresholdRule } from '../../src/core/rules/types.js';

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
  it('fires on a window with more than N readings, reports each further one, and resolves at or below N', () => {
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
    closed('tumbling-1m', 120_000, [result(120_000, 'ERROR', 5, ['e3', 'e4', 'e5', 'e6', 'e7'])]);
    // No ERROR line at all in this window: it counts as 0 and ends the episode.
    closed('tumbling-1m', 180_000, [result(180_000, 'INFO', 3)]);
    expect(out.map((a) => [a.state, a.startedAt, a.ts, a.value])).toEqual([
      ['firing', 60_000, 120_000, 2],
      ['firing', 60_000, 180_000, 5], // the second ERROR-heavy minute, reported with its own lines
      ['resolved', 60_000, 240_000, 0],
    ]);
    expect(new Set(out.map((a) => a.id)).size).toBe(3);
    expect(out[1]?.report?.lines).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    expect(out[1]?.message).toMatch(/still firing since 1970-01-01T00:01:00.000Z$/);
    expect(out[0]?.report).toEqual({
      window: 'tumbling-1m',
      start: 60_000,
      end: 120_000,
      counts: { ERROR: 2, WARN: 9 },
      lines: ['e1', 'e2'],
      linesOmitted: 0,
    });
    expect(out[2]?.report).toBeUndefined();
  });
});

describe('aggregate rule', () => {
  const rule: AggregateRule = {
    ...base,
    kind: 'aggregate',
    id: 'warm',
    window: 'tumbling-10s',
    metric: 't',
    aggregate: 'mean',
    above: 30,
    hysteresis: 1,
    minDurationMs: 20_000,
    keepFiringForMs: 0,
    minCount: 2,
  };
  /** Closes 10-second windows from 0 on, one per [mean, count] given (null: no reading of t). */
  const windows = (r: Rule, means: ([number, number] | null)[]): Alert[] => {
    const sr = new SensorRules('s1', () => [r]);
    const out: Alert[] = [];
    means.forEach((m, i) => {
      const start = i * 10_000;
      const results =
        m === null
          ? []
          : [
              {
                id: `w${i}`,
                sensorId: 's1',
                metric: 't',
                window: 'tumbling-10s',
                start,
                end: start + 10_000,
                count: m[1],
                mean: m[0],
              },
            ];
      sr.onWindowClosed('tumbling-10s', start, start + 10_000, results, out);
    });
    return out;
  };

  it('fires once windows have breached back to back for the pending period, from the first of them', () => {
    // One warm window alone (10 s) is not enough; two in a row (20 s) are; 29.5 is not clear by 1.
    const out = windows(rule, [
      [31, 50],
      [20, 50],
      [31, 50],
      [32, 50],
      [33, 50],
      [29.5, 50],
      [28.9, 50],
    ]);
    expect(out.map((a) => [a.state, a.startedAt, a.ts, a.value])).toEqual([
      ['firing', 20_000, 40_000, 32],
      ['resolved', 20_000, 70_000, 28.9],
    ]);
    expect(out[0]?.message).toBe(
      'mean of t of s1 in tumbling-10s is 32, above 30 since 1970-01-01T00:00:20.000Z',
    );
  });

  it('skips windows with too few readings: they neither fire, resolve nor end a pending period', () => {
    const out = windows(rule, [[31, 50], [99, 1], null, [31, 50], [20, 1], [20, 50]]);
    // Pending from 0; the two thin windows and the empty one say nothing; 40 s breach at the fourth.
    expect(out.map((a) => [a.state, a.startedAt, a.ts])).toEqual([
      ['firing', 0, 40_000],
      ['resolved', 0, 60_000],
    ]);
  });

  it('without a pending period fires on the first window; `below` judges a low deviation (a stuck sensor)', () => {
    const stuck: Rule = {
      ...rule,
      id: 'stuck',
      aggregate: 'stddev',
      minDurationMs: 0,
      hysteresis: 0,
      below: 0.01,
    };
    delete (stuck as { above?: number }).above;
    const sr = new SensorRules('s1', () => [stuck]);
    const out: Alert[] = [];
    const close = (start: number, sd: number) => {
      const r = {
        id: `w${start}`,
        sensorId: 's1',
        metric: 't',
        window: 'tumbling-10s',
        start,
        end: start + 10_000,
        count: 10,
        stddev: sd,
      };
      sr.onWindowClosed('tumbling-10s', start, start + 10_000, [r], out);
    };
    close(0, 2);
    close(10_000, 0);
    close(20_000, 0);
    close(30_000, 1.5);
    expect(out.map((a) => [a.state, a.startedAt, a.value])).toEqual([
      ['firing', 10_000, 0],
      ['resolved', 10_000, 1.5],
    ]);
  });

  it('with keepFiringFor, resolves only after clear windows back to back for that long', () => {
    const kept: Rule = { ...rule, keepFiringForMs: 20_000 };
    // Fires at 20 s; one clear window at 30–40 s is not enough, the breach resumes; two clear from 60 s.
    const out = windows(kept, [
      [31, 50],
      [31, 50],
      [31, 50],
      [28, 50],
      [31, 50],
      [32, 50],
      [28, 50],
      [27, 50],
    ]);
    expect(out.map((a) => [a.state, a.startedAt, a.ts])).toEqual([
      ['firing', 0, 20_000],
      ['resolved', 0, 80_000],
    ]);
  });

  it('keeps its pending period across a snapshot', () => {
    const sr = new SensorRules('s1', () => [rule]);
    const out: Alert[] = [];
    const result = (start: number) => ({
      id: 'w',
      sensorId: 's1',
      metric: 't',
      window: 'tumbling-10s',
      start,
      end: start + 10_000,
      count: 9,
      mean: 35,
    });
    sr.onWindowClosed('tumbling-10s', 0, 10_000, [result(0)], out);
    const restored = new SensorRules('s1', () => [rule]).restore(roundTrip(sr.snapshot()));
    restored.onWindowClosed('tumbling-10s', 10_000, 20_000, [result(10_000)], out);
    expect(out.map((a) => [a.state, a.startedAt, a.ts])).toEqual([['firing', 0, 20_000]]);
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
