import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/core/outputs.js';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { IncidentEffects, planIncidents, type Incident, type IncidentKind } from '../../src/sim/incidents.js';
import { describeIncident, groupedNotifications, scoreAlerts, SHIPPED_RULES } from '../../src/sim/score.js';
import { CityStream } from '../../src/sim/stream.js';
import { embeddedConfig, feed, settled } from '../support/embedded.js';

/** The figures this test prints go into the README (vitest shows a test's stdout). */
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const SHIPPED = new URL('../../config/vigil.yaml', import.meta.url).pathname;
const STATIONS = 50;
const SPAN_MS = 15 * 60_000;
const T0 = Date.UTC(2026, 5, 1, 12);

/**
 * The shipped rules against incidents with a ground truth: a quarter of an hour of a city of 50
 * stations (at two densities), an incident starting every 30 s (heat episodes over neighbourhoods, stuck, noisy and
 * drifting sensors, silent stations), the simulator's usual one-reading spikes and noise everywhere
 * else. The engine runs embedded with the shipped pipeline; what it writes to vigil.alerts is scored.
 */
describe('alert quality of the shipped rules', () => {
  it.each([
    // The quickstart's density (10 readings per station and second), and a sparse network (1 per second).
    [7, 500],
    [3, 50],
  ])(
    'seed %i at %i readings/s: at least 95 percent of incident stations alerted and of firing alerts about one, one episode each',
    async (seed, rate) => {
      const { incidents, alerts } = await run(seed, rate);
      const score = scoreAlerts(incidents, alerts);
      const kinds = new Set<IncidentKind>(incidents.map((i) => i.kind));
      say(
        `alert quality, seed ${seed}, ${rate / STATIONS} readings/s per station: ${incidents.length} incidents (${[...kinds].join(', ')}), ` +
          `${score.alerted} of ${score.cases} incident stations alerted (${(100 * score.recall).toFixed(1)} %), ` +
          `${score.matching} of ${score.firing} firing alerts about an incident (${(100 * score.precision).toFixed(1)} %)`,
      );
      for (const m of score.missed) say(`  missed: ${m}`);
      for (const a of score.unexplained) say(`  unexplained: ${a.ruleId} ${a.sensorId} ${a.message}`);
      expect(kinds.size).toBe(5);
      expect(incidents.length).toBeGreaterThanOrEqual(25);
      expect(score.recall).toBeGreaterThanOrEqual(0.95);
      expect(score.precision).toBeGreaterThanOrEqual(0.95);
      // No flapping: one episode per incident and station (a quiet window inside one does not end it).
      expect(score.firing).toBe(score.alerted);
      // Every episode that fired also resolved once its incident was over.
      const open = alerts.filter(
        (a) =>
          a.state === 'firing' &&
          !alerts.some(
            (b) =>
              b.state === 'resolved' &&
              b.startedAt === a.startedAt &&
              b.ruleId === a.ruleId &&
              b.sensorId === a.sensorId,
          ),
      );
      expect(open.map((a) => `${a.ruleId} ${a.sensorId}`)).toEqual([]);
      expect(incidents.map(describeIncident)[0]).toMatch(/^heat-1: heat episode/);
      // Grouped per rule and station area (a sink's group, 10 s wait): a heat episode over five
      // stations is one notification as it fires and one as it ends, not ten.
      const grouped = groupedNotifications(alerts, {
        by: ['rule', 'area'],
        area: /^(st-\d{3})/,
        waitMs: 10_000,
      });
      const heat = incidents.filter((i) => i.kind === 'heat');
      const heatNotes = grouped.filter((n) => n.ruleId === SHIPPED_RULES.heat);
      say(
        `grouped per rule and area: ${grouped.length} notifications for ${alerts.length} alerts; ${heatNotes.length} for ${heat.length} heat episodes`,
      );
      expect(heatNotes.length).toBeLessThanOrEqual(2 * heat.length + 2);
      expect(heatNotes.filter((n) => n.state === 'firing').map((n) => n.value)).toContain(5);
      expect(grouped.length).toBeLessThan(alerts.length);
    },
    180_000,
  );
});

/** The shipped pipeline, embedded, over the seeded city with its incidents; what vigil.alerts holds. */
async function run(seed: number, rate: number): Promise<{ incidents: Incident[]; alerts: Alert[] }> {
  const shipped = parse(readFileSync(SHIPPED, 'utf8')) as { pipeline: Record<string, unknown> };
  const config = embeddedConfig({ pipeline: shipped.pipeline });
  const incidents = planIncidents({ stations: STATIONS, seed, startTs: T0, spanMs: SPAN_MS });
  const stream = new CityStream({
    stations: STATIONS,
    seed,
    rate,
    startTs: T0,
    incidents: new IncidentEffects(incidents),
  });
  const node = await startEmbedded(config, silentLogger);
  try {
    // A minute past the last incident's end: its windows close and its alerts fire and resolve.
    const total = ((SPAN_MS + 60_000) / 1000) * rate;
    for (let sent = 0; sent < total;) {
      const batch = Array.from({ length: Math.min(20_000, total - sent) }, () => stream.next());
      feed(node.records, config, batch);
      sent += batch.length;
      await settled(node.records, config, 120_000);
    }
  } finally {
    await node.stop();
  }
  const alerts = node.records
    .partitions(config.kafka.topics.alerts)
    .flat()
    .map((r) => JSON.parse(r.value?.toString() ?? '') as Alert);
  return { incidents, alerts };
}
