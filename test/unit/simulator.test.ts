import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/core/outputs.js';
import type { Reading } from '../../src/core/reading.js';
import { CitySimulator, CITY_METRICS, stationId } from '../../src/sim/city.js';
import { areaOf, IncidentEffects, planIncidents, type Incident } from '../../src/sim/incidents.js';
import { scoreAlerts } from '../../src/sim/score.js';
import { Random } from '../../src/sim/random.js';

describe('simulator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new CitySimulator({ stations: 3, seed: 7 });
    const b = new CitySimulator({ stations: 3, seed: 7 });
    const c = new CitySimulator({ stations: 3, seed: 8 });
    const ra = [1, 2, 3, 4].map((t) => a.next(t));
    expect([1, 2, 3, 4].map((t) => b.next(t))).toEqual(ra);
    expect([1, 2, 3, 4].map((t) => c.next(t))).not.toEqual(ra);
  });

  it('visits stations round-robin with per-station sequence numbers', () => {
    const s = new CitySimulator({ stations: 2, seed: 1 });
    expect(
      [1, 2, 3].map((t) => {
        const r = s.next(t);
        return [r.sensorId, r.seq];
      }),
    ).toEqual([
      ['st-0000', 0],
      ['st-0001', 0],
      ['st-0000', 1],
    ]);
  });

  it('draws values around each metric mean', () => {
    const s = new CitySimulator({ stations: 1, seed: 3, metrics: ['temperature'] });
    let sum = 0;
    for (let i = 0; i < 5000; i++) sum += s.next(i).values['temperature'] ?? 0;
    expect(sum / 5000).toBeCloseTo(CITY_METRICS['temperature']?.mean ?? 0, 0);
  });

  it('gaussian has mean ~0 and stddev ~1', () => {
    const r = new Random(42);
    const xs = Array.from({ length: 20000 }, () => r.gaussian());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});

describe('simulated incidents', () => {
  const T0 = 1_800_000_000_000;
  const plan = planIncidents({ stations: 40, seed: 5, startTs: T0, spanMs: 30 * 60_000 });

  it('take turns by kind, are seeded, and never hold a station twice at once (nor in its rest)', () => {
    expect(planIncidents({ stations: 40, seed: 5, startTs: T0, spanMs: 30 * 60_000 })).toEqual(plan);
    expect(plan.slice(0, 5).map((i) => i.kind)).toEqual(['heat', 'stuck', 'noisy', 'drift', 'silent']);
    expect(plan.every((i) => i.end <= T0 + 30 * 60_000)).toBe(true);
    for (const a of plan)
      for (const b of plan)
        if (a !== b && a.stations.some((s) => b.stations.includes(s)))
          expect(a.end + 120_000 <= b.start || b.end + 120_000 <= a.start).toBe(true);
    for (const heat of plan.filter((i) => i.kind === 'heat')) {
      expect(heat.stations).toHaveLength(5);
      expect(new Set(heat.stations.map(areaOf)).size).toBe(1);
    }
  });

  it('change what their stations report, and only while they hold', () => {
    const effects = new IncidentEffects(plan);
    const city = new CitySimulator({ stations: 40, seed: 5, incidents: effects });
    const by = (kind: string) => plan.find((i) => i.kind === kind) as Incident;
    const readings: Reading[] = [];
    // 4 readings per station and second, from T0 to 5 minutes in.
    for (let ts = T0; ts < T0 + 5 * 60_000; ts += 6) readings.push(city.next(ts));
    const of = (i: Incident, s: number) =>
      readings.filter((r) => r.sensorId === stationId(s) && r.ts >= i.start && r.ts < i.end);
    const silent = by('silent');
    expect(of(silent, silent.stations[0] as number)).toEqual([]);
    const stuck = by('stuck');
    const humidity = new Set(of(stuck, stuck.stations[0] as number).map((r) => r.values['humidity']));
    expect(humidity.size).toBe(1);
    const heat = by('heat');
    const temps = heat.stations.flatMap((s) => of(heat, s).map((r) => r.values['temperature'] as number));
    expect(temps.reduce((a, b) => a + b, 0) / temps.length).toBeGreaterThan(31);
    const drift = by('drift');
    const last = of(drift, drift.stations[0] as number).slice(-20);
    const pressure = last.reduce((a, r) => a + (r.values['pressure'] as number), 0) / last.length;
    expect(pressure).toBeGreaterThan(1013 + 10);
  });

  it('scores a matching alert, an unexplained one, and a miss', () => {
    const heat = plan[0] as Incident;
    const alert = (sensorId: string, ts: number, ruleId = 'temperature-high'): Alert => ({
      id: `${sensorId}${ts}`,
      ruleId,
      kind: 'aggregate',
      sensorId,
      metric: 'temperature',
      state: 'firing',
      severity: 'warning',
      ts,
      startedAt: ts,
      value: 33,
      message: '',
      labels: {},
    });
    const first = stationId(heat.stations[0] as number);
    const score = scoreAlerts([heat], [alert(first, heat.start + 20_000), alert(first, heat.start - 1)]);
    expect([score.cases, score.alerted, score.firing, score.matching]).toEqual([5, 1, 2, 1]);
    expect(score.missed).toHaveLength(4);
    expect(scoreAlerts([heat], [], undefined, { until: heat.end - 1 }).cases).toBe(0);
  });
});
