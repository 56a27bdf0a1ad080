import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { idGlob } from '../../src/core/glob.js';
import { silenceThresholds } from '../../src/core/rules/evaluate.js';
import { SensorRules } from '../../src/core/rules/sensor-rules.js';
import { judgedBy, rulesFor, sensorLabeler } from '../../src/core/rules/scope.js';
import type { Alert, Rule } from '../../src/core/rules/types.js';
import { configErrorOf } from '../support/config-error.js';

const T = Date.UTC(2026, 11, 7, 12, 0, 0);

function configOf(rules: unknown[], sensorLabels: unknown[] = []) {
  return buildConfig({
    readings: { sensorLabels },
    pipeline: { windows: [{ kind: 'tumbling', size: '10s' }], rules },
  });
}

/** What one sensor's rules say of these temperatures, one reading a second. */
function fired(
  rules: readonly Rule[],
  labels: (id: string) => Record<string, string>,
  sensorId: string,
  values: number[],
): string[] {
  const sr = new SensorRules(
    sensorId,
    judgedBy(sensorId, () => rules, labels),
  );
  const alerts: Alert[] = [];
  values.forEach((temperature, i) => {
    sr.onReading({ sensorId, ts: T + i * 1_000, values: { temperature } }, { push: (a) => alerts.push(a) });
  });
  return alerts.map((a) => `${a.ruleId} ${a.state} at ${a.value}`);
}

describe('rules per sensor', () => {
  const config = configOf(
    [
      {
        id: 'freezer-warm',
        kind: 'threshold',
        metric: 'temperature',
        above: -15,
        sensors: ['freezer-*', 'cold-room-?'],
        overrides: { 'freezer-7': { above: -10 }, 'cold-room-1': { above: 4, hysteresis: 1 } },
      },
      {
        id: 'north-hot',
        kind: 'threshold',
        metric: 'temperature',
        above: 30,
        sensorLabels: { site: 'north' },
      },
    ],
    [
      { sensors: 'st-1*', labels: { site: 'north' } },
      { sensors: ['st-19'], labels: { site: 'south' } },
    ],
  );
  const { rules, sensorLabels } = config.pipeline;
  const labels = sensorLabels;

  it('a rule with sensors and overrides fires for the sensors it names, at their own thresholds, and for no other', () => {
    expect(fired(rules, labels, 'freezer-1', [-20, -12, -20])).toEqual([
      'freezer-warm firing at -12',
      'freezer-warm resolved at -20',
    ]);
    // freezer-7's own threshold: -12 is fine, -8 is not.
    expect(fired(rules, labels, 'freezer-7', [-20, -12, -8])).toEqual(['freezer-warm firing at -8']);
    expect(fired(rules, labels, 'cold-room-1', [2, 3.5, 4.5, 3.5, 2.9])).toEqual([
      'freezer-warm firing at 4.5',
      'freezer-warm resolved at 2.9',
    ]);
    // Not named: neither glob takes them.
    expect(fired(rules, labels, 'st-0007', [-12, 5, 40])).toEqual([]);
    expect(fired(rules, labels, 'cold-room-12', [5])).toEqual([]);
  });

  it('a rule with sensorLabels judges the sensors carrying them (readings.sensorLabels), a later entry winning', () => {
    expect(labels('st-10')).toEqual({ site: 'north' });
    expect(labels('st-19')).toEqual({ site: 'south' });
    expect(fired(rules, labels, 'st-10', [25, 31])).toEqual(['north-hot firing at 31']);
    expect(fired(rules, labels, 'st-19', [25, 31])).toEqual([]);
    expect(fired(rules, labels, 'st-2', [25, 31])).toEqual([]);
  });

  it('says what is wrong with an override, where', () => {
    const rule = (over: Record<string, unknown>) => ({
      id: 'r',
      kind: 'threshold',
      metric: 'temperature',
      above: 30,
      below: 0,
      ...over,
    });
    expect(
      configErrorOf(() => configOf([rule({ overrides: { 'st-1': { metric: 'humidity' } } })])).message,
    ).toMatch(
      /pipeline\.rules\[0\]\.overrides\.st-1\.metric: not a threshold a sensor can have of its own in a threshold rule \(those are: above, below, hysteresis, minDuration\)/,
    );
    expect(configErrorOf(() => configOf([rule({ overrides: { 'st-1': { above: -5 } } })])).message).toMatch(
      /pipeline\.rules\[0\]\.overrides\.st-1\.below: `below` must be lower than `above`/,
    );
    expect(
      configErrorOf(() => configOf([rule({ overrides: { 'st-1': { minDuration: 'soon' } } })])).message,
    ).toMatch(/overrides\.st-1\.minDuration: "soon" is not a duration/);
    expect(
      configErrorOf(() => configOf([rule({ sensors: ['freezer-*'], overrides: { 'st-1': { above: 5 } } })]))
        .message,
    ).toMatch(/overrides\.st-1: st-1 is not among the sensors the rule judges \(freezer-\*\)/);
    expect(configErrorOf(() => configOf([rule({ sensors: [] })])).message).toMatch(
      /pipeline\.rules\[0\]\.sensors/,
    );
  });

  it("a sensor's own silence length gets a stream-clock queue too", () => {
    const c = configOf([
      { id: 'quiet', kind: 'silence', after: '5m', overrides: { 'st-1': { after: '30s' } } },
    ]);
    expect(silenceThresholds(c.pipeline.rules)).toEqual([30_000, 300_000]);
  });

  it('ends a firing episode when its rule is removed, rescoped away or changes kind; a new threshold keeps it', () => {
    const rule = (over: Record<string, unknown>) =>
      configOf([{ id: 'warm', kind: 'threshold', metric: 'temperature', above: 10, ...over }]).pipeline.rules;
    const cases: [string, readonly Rule[], string[]][] = [
      ['removed', [], ['warm resolved at 0: warm no longer judges fz-1 (the rule was changed or removed)']],
      [
        'rescoped away',
        rule({ sensors: ['other-*'] }),
        ['warm resolved at 0: warm no longer judges fz-1 (the rule was changed or removed)'],
      ],
      [
        'another kind',
        configOf([{ id: 'warm', kind: 'silence', after: '1m' }]).pipeline.rules,
        ['warm resolved at 0: warm no longer judges fz-1 (the rule was changed or removed)'],
      ],
      [
        'a threshold of its own',
        rule({ overrides: { 'fz-1': { above: 30 } } }),
        ['warm resolved at 25: temperature of fz-1 is back to 25'],
      ],
    ];
    for (const [what, next, expected] of cases) {
      let inForce = rule({});
      const sr = new SensorRules(
        'fz-1',
        judgedBy('fz-1', () => inForce),
      );
      const alerts: Alert[] = [];
      const out = { push: (a: Alert) => alerts.push(a) };
      sr.onReading({ sensorId: 'fz-1', ts: T, values: { temperature: 20 } }, out);
      inForce = next;
      sr.onReading({ sensorId: 'fz-1', ts: T + 1_000, values: { temperature: 25 } }, out);
      sr.onReading({ sensorId: 'fz-1', ts: T + 2_000, values: { temperature: 26 } }, out);
      const resolved = alerts.filter((a) => a.state === 'resolved');
      expect(
        resolved.map((a) => `${a.ruleId} resolved at ${a.value}: ${a.message}`),
        what,
      ).toEqual(expected);
      // The resolution closes the episode that fired: same start, and so the same episode for every sink.
      expect(resolved[0]?.startedAt, what).toBe(T);
      expect(resolved[0]?.ts, what).toBe(T + 1_000);
      expect(
        sr.snapshot().filter(([, st]) => st.firingSince !== null),
        what,
      ).toEqual([]);
    }
  });

  it('rulesFor: the list itself when every rule judges a sensor unchanged; else each rule as it judges it', () => {
    const plain: Rule = { id: 'a', kind: 'silence', afterMs: 1_000, severity: 'warning', labels: {} };
    const own: Rule = { ...plain, afterMs: 5_000 };
    const scoped: Rule = { ...plain, id: 'b', sensors: ['x-*'], overrides: { 'x-1': own } };
    const list = [plain, scoped];
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), (id) => {
        const got = rulesFor(list, id, {});
        const expected = [plain, ...(id.startsWith('x-') ? [id === 'x-1' ? own : scoped] : [])];
        expect(got).toEqual(expected);
      }),
    );
    const shared = [plain];
    expect(rulesFor(shared, 'anything', {})).toBe(shared);
  });

  it('idGlob: `*` takes any run of characters, slashes and dots included; everything else is literal', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, mid, b) => {
        const literal = (s: string) => s.replace(/[*?[\]{},]/g, '');
        const [pa, pb] = [literal(a), literal(b)];
        expect(idGlob(`${pa}*${pb}`)(`${pa}${mid}${pb}`)).toBe(true);
        expect(idGlob(pa)(pa)).toBe(true);
      }),
    );
    expect(['site-a/st-1', '.hidden', 'st.1'].map(idGlob('*'))).toEqual([true, true, true]);
    expect(idGlob('st.1')('st-1')).toBe(false);
    expect(sensorLabeler([])('x')).toEqual({});
  });
});
