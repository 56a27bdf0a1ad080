/// <reference lib="dom" />
// The page functions below run in the browser: they use its DOM types.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/obs/logger.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { produce, uniquePrefix } from '../support/kafka.js';
import { exited } from '../support/node-process.js';
import { parsePrometheus, type Sample } from '../support/prometheus.js';
import { scriptCluster } from '../support/script-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Debian's Chromium (CI installs it with apt-get): playwright-core drives it, never downloads one. */
const CHROMIUM = process.env['VIGIL_CHROMIUM'] ?? '/usr/bin/chromium';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Saves a screenshot of the page, or of one of its panels, as .run/dashboard[-<name>].png. */
async function shoot(page: Page, name: string, selector?: string): Promise<string> {
  mkdirSync(join(ROOT, '.run'), { recursive: true });
  const path = join(ROOT, '.run', name === 'dashboard' ? 'dashboard.png' : `dashboard-${name}.png`);
  if (selector === undefined) await page.screenshot({ path, fullPage: true });
  else await page.locator(selector).screenshot({ path });
  return path;
}

/**
 * What an operator sees: a 3-node cluster from cluster/nodes.sh, a browser on node-1's dashboard.
 * An alert produced during the test appears on the page; the cluster view lists every node with its
 * partitions; a chart of window metrics draws its points; then /metrics, scraped under load, parses
 * as Prometheus text and shows every metric of the node with a value.
 */
describe('dashboard and metrics', () => {
  const { grpcBase, env, nodes, tokens: clusterTokens } = scriptCluster('dashboard', 18_400, 400);
  const prefix = uniquePrefix('dashboard');
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    try {
      nodes('stop');
    } catch {
      // already stopped
    }
  });

  it(
    'shows live alerts, the cluster and a chart in a browser, and serves metrics under load',
    { timeout: 300_000 },
    async () => {
      expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
      writeFileSync(
        env.VIGIL_CLUSTER_CONFIG,
        stringify({
          log: { level: 'warn' },
          kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
          redis: { keyPrefix: prefix },
          checkpoint: { interval: '500ms' },
          pipeline: {
            eventTime: { outOfOrderness: '1s', allowedLateness: '0s' },
            windows: [{ kind: 'tumbling', size: '10s' }],
            metrics: ['temperature', 'humidity'],
            rules: [{ id: 'hot', kind: 'threshold', metric: 'temperature', above: 30, severity: 'critical' }],
          },
        }),
      );
      nodes('up', '3');
      const tokens = clusterTokens();
      const viewer = tokens['VIGIL_VIEWER_TOKEN'] ?? '';
      const http = (i: number): string => `http://127.0.0.1:${grpcBase + 100 + i}`;
      const getJson = async (url: string): Promise<unknown> =>
        (await fetch(url, { headers: { authorization: `Bearer ${viewer}` } })).json();

      // Settled: three reachable nodes owning the 12 partitions of the group (readings and logs).
      type View = { nodes: { id: string; reachable: boolean; partitions: { partition: string }[] }[] };
      let view: View = { nodes: [] };
      for (let i = 0; i < 120; i++) {
        view = (await getJson(`${http(1)}/api/cluster`)) as View;
        const owned = view.nodes.flatMap((n) => n.partitions.map((p) => p.partition));
        if (view.nodes.filter((n) => n.reachable).length === 3 && new Set(owned).size === 12) break;
        await sleep(500);
      }
      expect(view.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2', 'node-3']);

      // Five minutes of history for a few stations: closed minutes in the rollups, for the charts.
      const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'dashboard-test' }, silentLogger);
      const readings = `${prefix}vigil.readings`;
      const now = Date.now();
      const history = [];
      for (let t = now - 300_000; t < now - 5_000; t += 2_000)
        for (let s = 0; s < 4; s++)
          history.push({
            key: `hist-${s}`,
            value: JSON.stringify({
              sensorId: `hist-${s}`,
              ts: t,
              values: { temperature: 20 + s + ((t / 1000) % 7) },
            }),
          });
      await produce(kafka, readings, history);

      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(`${http(1)}/`);
      await page.fill('#token', viewer);
      await page.click('#login button');
      await page.waitForSelector('[data-testid=connection]:text("connected")', { timeout: 15_000 });

      // The cluster view lists every node with its partitions.
      await page.waitForFunction(
        () => document.querySelectorAll('tr[data-node] .part').length === 12,
        undefined,
        {
          timeout: 20_000,
        },
      );
      const listed = await page.$$eval('tr[data-node]', (rows) =>
        rows.map((r) => [(r as HTMLElement).dataset['node'], r.querySelectorAll('.part').length]),
      );
      expect(listed.map((r) => r[0])).toEqual(['node-1', 'node-2', 'node-3']);
      expect(listed.every((r) => Number(r[1]) > 0)).toBe(true);

      // An alert produced now appears on the page within seconds.
      const hot = `hot-${Date.now().toString(36)}`;
      await produce(kafka, readings, [
        { key: hot, value: JSON.stringify({ sensorId: hot, ts: Date.now(), values: { temperature: 45 } }) },
      ]);
      const row = await page.waitForSelector(`#alerts li:has-text("${hot}")`, { timeout: 20_000 });
      expect(await row.textContent()).toMatch(/firing.*critical.*hot · hot-/);
      // What is firing now: the open episode, under its rule, with its age; gone once it resolves.
      const firing = await page.waitForSelector('#firing li[data-rule="hot"]', { timeout: 10_000 });
      expect(await firing.textContent()).toMatch(
        new RegExp(`critical\\s*hot\\s*1 sensor\\s*for \\d+s\\s*${hot}`),
      );
      await shoot(page, 'firing-now', '#firing-panel');
      await produce(kafka, readings, [
        { key: hot, value: JSON.stringify({ sensorId: hot, ts: Date.now(), values: { temperature: 20 } }) },
      ]);
      await page.waitForSelector('#firing li[data-rule="hot"]', { state: 'detached', timeout: 20_000 });
      expect(await page.textContent('[data-testid=firing-count]')).toBe('0');
      await page.waitForSelector(`#alerts li:has-text("${hot}") .state-resolved`, { timeout: 5_000 });
      await shoot(page, 'alert-log', '#alerts-panel');
      // The timeline: a row for the rule, a bar for the episode, ended (it resolved).
      const bar = await page.waitForSelector(
        `#timeline .timeline-row[data-rule="hot"] .bar[data-sensor="${hot}"]:not(.open)`,
        {
          timeout: 5_000,
        },
      );
      expect(await bar.getAttribute('class')).toBe('bar sev-critical-bar');
      expect(await bar.getAttribute('title')).toMatch(new RegExp(`^${hot}: \\S+Z to \\S+Z$`));
      await shoot(page, 'timeline', '#timeline-panel');

      // A station's view: from a sensor in the alert log, its alerts and the rules that judge it.
      await page.click(`#alerts a.sensor[data-sensor="${hot}"]`);
      await page.waitForSelector('#station-panel:not([hidden])', { timeout: 5_000 });
      expect(await page.textContent('[data-testid=station-id]')).toBe(hot);
      expect(await page.$$eval('#station-alerts li', (lis) => lis.map((li) => li.textContent))).toEqual([
        expect.stringMatching(/resolved.*critical.*hot · hot-/) as unknown,
        expect.stringMatching(/firing.*critical.*hot · hot-/) as unknown,
      ]);
      await page.waitForSelector('#station-rules li[data-rule="hot"]', { timeout: 10_000 });
      expect(await page.textContent('#station-rules li[data-rule="hot"]')).toBe('hot: temperature above 30');
      await shoot(page, 'station', '#station-panel');
      // The same view from a link (an Alertmanager alert's generatorURL), in a new tab, after login.
      const linked = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await linked.goto(`${http(1)}/#station=${encodeURIComponent(hot)}`);
      await linked.fill('#token', viewer);
      await linked.click('#login button');
      await linked.waitForSelector('#station-panel:not([hidden])', { timeout: 10_000 });
      expect(await linked.textContent('[data-testid=station-id]')).toBe(hot);
      await linked.close();

      // Partitions nothing arrives on (the log topic's) read as idle, not as an ever older checkpoint.
      await page.waitForSelector('tr[data-node] .part.idle', { timeout: 20_000 });
      expect(await page.textContent('tr[data-node] .part.idle')).toMatch(/^logs:\d+ \w+ · idle$/);
      await shoot(page, 'cluster', '#cluster-panel');

      // A chart of a station's window metrics draws its points.
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('#series option')].some((o) => o.textContent.startsWith('hist-0')),
        undefined,
        { timeout: 30_000 },
      );
      const option = await page.$eval(
        '#series',
        (s) => [...(s as HTMLSelectElement).options].find((o) => o.text === 'hist-0 · temperature')?.value,
      );
      await page.selectOption('#series', option ?? '');
      await page.waitForFunction(
        () => Number(document.getElementById('chart')?.dataset['points']) >= 3,
        undefined,
        {
          timeout: 20_000,
        },
      );
      // The time axis spans the chosen range (1 h by default), not just the minutes that have data.
      const span = () =>
        page.$eval(
          '#chart',
          (c) => Number((c as HTMLElement).dataset['to']) - Number((c as HTMLElement).dataset['from']),
        );
      expect(await span()).toBe(3600);
      // 15 minutes: the five minutes of history take a third of the axis.
      await page.selectOption('#minutes', '15');
      await page.waitForFunction(
        () =>
          Number(document.getElementById('chart')?.dataset['to']) -
            Number(document.getElementById('chart')?.dataset['from']) ===
          900,
        undefined,
        { timeout: 10_000 },
      );
      // The mean's colour (#5fb3ff) is on the canvas: the line and its points were drawn.
      const drawn = await page.$eval('#chart canvas', (c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let n = 0;
        for (let i = 0; i < data.length; i += 4)
          if (data[i] === 95 && data[i + 1] === 179 && data[i + 2] === 255) n++;
        return n;
      });
      expect(drawn).toBeGreaterThan(50);
      const axis = await page.$$eval('#chart .u-axis', (axes) => axes[0]?.textContent ?? '');
      expect(axis).not.toMatch(/20[23]\d/); // hours and minutes of today, no years
      await shoot(page, 'chart', '#chart-panel');
      // Rules are edited with an admin token (a viewer's is refused), and the page lists the change.
      const putRule = (token: string) =>
        fetch(`${http(1)}/api/rules`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ id: 'humid', kind: 'threshold', metric: 'humidity', above: 95 }),
        });
      expect((await putRule(viewer)).status).toBe(403);
      expect((await putRule(tokens['VIGIL_ADMIN_TOKEN'] ?? '')).status).toBe(200);
      await page.waitForSelector('#rules li[data-rule="humid"]', { timeout: 15_000 });
      // The rule form, as an admin: a number checked as typed, the server's reason shown at its field,
      // then a valid rule saved and listed in words.
      const admin = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await admin.goto(`${http(1)}/`);
      await admin.fill('#token', tokens['VIGIL_ADMIN_TOKEN'] ?? '');
      await admin.click('#login button');
      await admin.waitForSelector('#rule-editor', { timeout: 15_000 });
      await admin.fill('#rule-editor input[name=id]', 'warm');
      await admin.selectOption('#rule-editor select[name=kind]', 'aggregate');
      await admin.fill('#rule-editor input[name=window]', 'tumbling-5s');
      await admin.fill('#rule-editor input[name=metric]', 'temperature');
      await admin.fill('#rule-editor input[name=aggregate]', 'mean');
      await admin.fill('#rule-editor input[name=above]', 'warm');
      await admin.click('#rule-editor button[type=submit]');
      expect(await admin.textContent('#rule-editor label[data-field=above] .field-error')).toBe(
        'must be a number',
      );
      await admin.fill('#rule-editor input[name=above]', '35');
      await admin.click('#rule-editor button[type=submit]');
      const refused = await admin.waitForSelector(
        '#rule-editor label.invalid[data-field=window] .field-error',
        {
          timeout: 10_000,
        },
      );
      expect(await refused.textContent()).toMatch(/no window named "tumbling-5s" \(windows: tumbling-10s\)/);
      await shoot(admin, 'rule-form', '#rules-panel');
      await admin.fill('#rule-editor input[name=window]', 'tumbling-10s');
      await admin.fill('#rule-editor input[name=minDuration]', '20s');
      await admin.click('#rule-editor button[type=submit]');
      await admin.waitForSelector('#rule-editor .form-result:has-text("rule warm in force")', {
        timeout: 10_000,
      });
      await page.waitForSelector('#rules li[data-rule="warm"]', { timeout: 15_000 });
      expect(await page.textContent('#rules li[data-rule="warm"]')).toMatch(
        /^warningwarmaggregate: mean of temperature in tumbling-10s above 35 for 20s/,
      );
      // A rule for some sensors, one with a threshold of its own: JSON checked as typed, then in force.
      await admin.fill('#rule-editor input[name=id]', 'freezer');
      await admin.selectOption('#rule-editor select[name=kind]', 'threshold');
      await admin.fill('#rule-editor input[name=metric]', 'temperature');
      await admin.fill('#rule-editor input[name=above]', '-15');
      await admin.fill('#rule-editor input[name=sensors]', 'fz-*');
      await admin.fill('#rule-editor input[name=overrides]', "{'fz-7': 40}");
      await admin.click('#rule-editor button[type=submit]');
      expect(await admin.textContent('#rule-editor label[data-field=overrides] .field-error')).toBe(
        'must be JSON, an object',
      );
      await admin.fill('#rule-editor input[name=overrides]', '{"fz-7": {"above": -10}}');
      await admin.click('#rule-editor button[type=submit]');
      await admin.waitForSelector('#rule-editor .form-result:has-text("rule freezer in force")', {
        timeout: 10_000,
      });
      await page.waitForSelector('#rules li[data-rule="freezer"]', { timeout: 15_000 });
      expect(await page.textContent('#rules li[data-rule="freezer"]')).toMatch(
        /temperature above -15 · sensors fz-\* · own thresholds: fz-7/,
      );
      await sleep(1_200); // in force on every node within a second
      const fz = `fz-${Date.now().toString(36)}`;
      const freezerReadings = (sensorId: string, temperatures: number[]) =>
        temperatures.map((temperature, i) => ({
          key: sensorId,
          value: JSON.stringify({ sensorId, ts: Date.now() + i, values: { temperature } }),
        }));
      await produce(kafka, readings, [
        ...freezerReadings(fz, [-20, -12]),
        ...freezerReadings('fz-7', [-20, -12, -8]),
        // Not named by the rule: -12 says nothing; 40 fires `hot`, after it on the same partition.
        ...freezerReadings(`x${fz}`, [-12, 40]),
      ]);
      const firedRow = async (sensorId: string) =>
        (
          await page.waitForSelector(`#alerts li:has-text("freezer · ${sensorId}")`, { timeout: 20_000 })
        ).textContent();
      expect(await firedRow(fz)).toMatch(/temperature of fz-\S+ is -12, above -15/);
      expect(await firedRow('fz-7')).toMatch(/temperature of fz-7 is -8, above -10/);
      await page.waitForSelector(`#alerts li:has-text("hot · x${fz}")`, { timeout: 20_000 });
      expect(await page.$$eval('#alerts li', (lis) => lis.map((li) => li.textContent))).not.toContainEqual(
        expect.stringContaining(`freezer · x${fz}`),
      );
      // fz-7's station lists the rule with its own threshold.
      await page.click('#alerts a.sensor[data-sensor="fz-7"]');
      await page.waitForSelector('#station-rules li[data-rule="freezer"]', { timeout: 10_000 });
      expect(await page.textContent('#station-rules li[data-rule="freezer"]')).toBe(
        'freezer: temperature above -10',
      );
      await admin.close();
      await shoot(page, 'rules', '#rules-panel');
      const shot = await shoot(page, 'dashboard');
      expect(existsSync(shot)).toBe(true);

      // /metrics under load: the simulator at 2,000 readings/s (with late and malformed records), and
      // every node scraped while it runs.
      const load = spawn(
        'node',
        [
          'dist/cli/main.js',
          '-c',
          env.VIGIL_CLUSTER_CONFIG,
          'simulate',
          '--rate',
          '2000',
          '--sensors',
          '200',
          '--duration',
          '15s',
          '--late',
          '0.01',
          '--malformed',
          '0.01',
        ],
        { cwd: ROOT, env, stdio: 'ignore' },
      );
      await sleep(8_000);
      // Throughput over time: the load shows on the chart, sampled from the cluster view.
      await page.waitForFunction(
        () => Number(document.getElementById('throughput')?.dataset['maxRate']) > 100,
        undefined,
        { timeout: 20_000 },
      );
      await shoot(page, 'throughput', '#throughput-panel');
      const scrapes = await Promise.all(
        [1, 2, 3].map(async (i) => {
          const res = await fetch(`${http(i)}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
          expect(res.status).toBe(200);
          return parsePrometheus(await res.text());
        }),
      );
      expect(await exited(load)).toBe(0);
      const total = (name: string): number =>
        scrapes.reduce(
          (sum, s) => sum + (s.get(name) ?? []).reduce((a: number, x: Sample) => a + x.value, 0),
          0,
        );
      for (const name of [
        'vigil_records_in_total',
        'vigil_records_out_total',
        'vigil_event_to_output_seconds_count',
        'vigil_checkpoint_duration_seconds_count',
        'vigil_checkpoint_age_seconds',
        'vigil_actors',
        'vigil_mailbox_largest_messages',
        'vigil_alerts_total',
        'vigil_dead_letters_total',
        'vigil_late_total',
        'vigil_grpc_calls_total',
        'process_resident_memory_bytes',
      ])
        expect(total(name), name).toBeGreaterThan(0);
      // Lag is measured per partition as of its last batch: present for every owned partition.
      expect(scrapes.flatMap((s) => s.get('vigil_consumer_lag_records') ?? []).length).toBeGreaterThanOrEqual(
        6,
      );
    },
  );
});
