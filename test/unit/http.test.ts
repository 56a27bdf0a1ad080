import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { accumulate, newAccumulator, snapshotAccumulator } from '../../src/core/aggregate.js';
import type { Alert } from '../../src/core/outputs.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { silentLogger } from '../../src/obs/logger.js';
import { NodeMetrics } from '../../src/obs/metrics.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { Subscriptions } from '../../src/transport/alert-subscription.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { dashboardRoutes } from '../../src/transport/http/dashboard.js';
import { prometheusRoute, PROMETHEUS_ENDPOINT } from '../../src/transport/http/prometheus.js';
import {
  bodyTooLarge,
  json,
  startHttpServer,
  type HttpLimits,
  type RunningHttpServer,
} from '../../src/transport/http/server.js';
import { parsePrometheus } from '../support/prometheus.js';
import { buildConfig } from '../../src/config/load.js';
import { acceptancePipeline } from '../support/acceptance.js';

const HTTP_LIMITS = buildConfig({ pipeline: acceptancePipeline() }).http;

const viewer = randomBytes(16).toString('hex');
const admin = randomBytes(16).toString('hex');
const tokens = TokenAuthority.parse(`viewer=${viewer},admin=${admin}`);
const servers: RunningHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function serve(
  routes: Parameters<typeof startHttpServer>[0]['routes'],
  limits: Partial<HttpLimits> = {},
): Promise<string> {
  const s = await startHttpServer({
    listen: '127.0.0.1:0',
    tokens,
    routes,
    logger: silentLogger,
    limits: { ...HTTP_LIMITS, ...limits },
  });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

const get = (url: string, token?: string) =>
  fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

/** A raw connection to `base`, and a promise that settles when the server closes it. */
function rawConnection(base: string): { socket: Socket; closed: Promise<string> } {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => {
    socket.once('close', () => {
      resolve(received);
    });
  });
  return { socket, closed };
}

const echo = {
  method: 'POST' as const,
  path: '/echo',
  access: 'public',
  handle: async ({
    body,
    maxBodyBytes,
  }: {
    body: () => Promise<string | undefined>;
    maxBodyBytes: number;
  }) => {
    const text = await body();
    return text === undefined
      ? json(413, { errors: [bodyTooLarge(maxBodyBytes)] })
      : json(200, { length: text.length });
  },
};

describe('HTTP server limits', () => {
  it('answers a body over http.maxBodyBytes with 413 and its reason, not a reset', async () => {
    const base = await serve([echo], { maxBodyBytes: 1_024 });
    const ok = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(1_024) });
    expect(await ok.json()).toEqual({ length: 1_024 });
    const over = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(300_000) });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ errors: ['the body is over 1024 bytes (http.maxBodyBytes)'] });
  });

  it('closes a connection whose headers come a byte at a time past http.headersTimeout', async () => {
    const base = await serve([echo], { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const { socket, closed } = rawConnection(base);
    const request = 'POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'y'.repeat(100);
    let i = 0;
    const drip = setInterval(() => {
      if (i < request.length && socket.writable) socket.write(request[i++] ?? '');
    }, 50);
    const answer = await closed;
    clearInterval(drip);
    expect(i).toBeLessThan(request.length); // cut while it was still sending
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('takes http.maxConnections connections at once and closes the ones beyond', async () => {
    const base = await serve([echo], {
      maxConnections: 2,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
    });
    const held = [rawConnection(base), rawConnection(base)];
    await Promise.all(held.map((h) => new Promise((resolve) => h.socket.once('connect', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const third = rawConnection(base);
    third.socket.write('GET /echo HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await third.closed).toBe('');
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    const after = await fetch(`${base}/echo`, { method: 'POST', body: 'ok' });
    expect(after.status).toBe(200);
  });
});

describe('HTTP server', () => {
  it('answers 404, 405, 401 and 403 before any handler runs', async () => {
    let ran = 0;
    const base = await serve([
      {
        method: 'GET',
        path: '/open',
        access: 'public',
        handle: () => Promise.resolve(json(200, { ok: true })),
      },
      {
        method: 'PUT',
        path: '/api/rules',
        access: '/http/dashboard/rules',
        handle: () => {
          ran++;
          return Promise.resolve(json(200, {}));
        },
      },
    ]);
    expect((await get(`${base}/open`)).status).toBe(200);
    expect((await get(`${base}/nowhere`)).status).toBe(404);
    expect((await get(`${base}/api/rules`, admin)).status).toBe(405);
    const put = (token?: string) =>
      fetch(`${base}/api/rules`, {
        method: 'PUT',
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        body: '{}',
      });
    expect((await put()).status).toBe(401);
    expect((await put(viewer)).status).toBe(403);
    expect(ran).toBe(0);
    expect((await put(admin)).status).toBe(200);
    expect(ran).toBe(1);
  });

  it('serves Prometheus text a parser reads, with a viewer token', async () => {
    const metrics = new NodeMetrics('node-x');
    metrics.recordsIn.inc({ topic: 'vigil.readings' }, 42);
    metrics.alerts.inc({ rule: 'hot', state: 'firing' });
    metrics.eventToOutput.labels({ kind: 'alert' }).observe(0.02);
    metrics.bind({
      partitions: () => [
        {
          partition: 'vigil.readings:0',
          lastCheckpointAt: Date.now() - 1_500,
          lag: 7,
          streamTime: Date.now() - 4_000,
        },
      ],
      actors: () => 12,
      takeLargestMailbox: () => 3,
    });
    const base = await serve([prometheusRoute(metrics, PROMETHEUS_ENDPOINT)]);
    expect((await get(`${base}/metrics`)).status).toBe(401);
    const res = await get(`${base}/metrics`, viewer);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheus(await res.text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.find((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))?.value;
    expect(value('vigil_records_in_total', { topic: 'vigil.readings', node: 'node-x' })).toBe(42);
    expect(value('vigil_alerts_total', { rule: 'hot', state: 'firing' })).toBe(1);
    // One label per dimension, units in the names, the standard process and Node.js names.
    expect(value('vigil_consumer_lag_records', { topic: 'vigil.readings', partition: '0' })).toBe(7);
    expect(value('vigil_checkpoint_age_seconds', { topic: 'vigil.readings' })).toBeGreaterThan(1);
    expect(value('vigil_event_time_lag_seconds', { partition: '0' })).toBeGreaterThan(3.9);
    expect(value('vigil_actors')).toBe(12);
    expect(value('vigil_mailbox_largest_messages')).toBe(3);
    expect(value('vigil_event_to_output_seconds_count')).toBe(1);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(families.get('vigil_build_info')?.[0]?.labels).toMatchObject({ nodejs: process.version });
  });
});

describe('dashboard routes', () => {
  const alert = (n: number): Alert => ({
    id: n.toString(16).padStart(32, '0'),
    ruleId: 'hot',
    kind: 'threshold',
    sensorId: 'st-1',
    metric: 'temperature',
    state: 'firing',
    severity: 'critical',
    ts: 1_000 + n,
    startedAt: 1_000 + n,
    value: 40,
    message: 'too hot',
    labels: {},
  });

  async function dashboard() {
    const log = new MemoryRecordLog();
    log.createTopic('alerts', 1);
    const store = new MemoryStateStore();
    const acc = newAccumulator(true);
    for (const v of [20, 22, 24]) accumulate(acc, v, Date.now());
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    await store.commit(
      { topic: 't', partition: 0 },
      {
        epoch: (await store.acquire({ topic: 't', partition: 0 })).epoch,
        offset: '1',
        partitionState: Buffer.from('{}'),
        sensors: new Map(),
        rollups: [{ sensorId: 'st-1', metric: 'temperature', minute, acc: snapshotAccumulator(acc) }],
      },
    );
    const subscriptions = new Subscriptions({ perNode: 64, perToken: 1 });
    const base = await serve(
      dashboardRoutes({
        cluster: {
          members: () => Promise.resolve([]),
          local: {
            nodeId: 'solo',
            inspect: () => Promise.resolve(undefined),
            control: () => Promise.resolve(),
            crash: () => Promise.resolve(),
            listActors: () => Promise.resolve([]),
            partitions: () => Promise.resolve([]),
            drain: () => Promise.resolve(''),
            summary: () =>
              Promise.resolve({
                actors: 9,
                logSources: ['app'],
                stats: { records: 5 },
                partitions: [
                  {
                    partition: 'vigil.readings:0',
                    state: 'open',
                    epoch: 2,
                    offset: '5',
                    lastCheckpointAt: Date.now(),
                    lag: 0,
                  },
                ],
              }),
          },
        },
        store,
        rulesInForce: () => [
          {
            id: 'hot',
            kind: 'threshold',
            metric: 'temperature',
            above: 30,
            hysteresis: 0,
            minDurationMs: 0,
            severity: 'warning',
            labels: {},
          },
          {
            id: 'freezer',
            kind: 'threshold',
            metric: 'temperature',
            above: -15,
            hysteresis: 0,
            minDurationMs: 0,
            severity: 'critical',
            labels: {},
            sensors: ['fz-*'],
            overrides: {
              'fz-7': {
                id: 'freezer',
                kind: 'threshold',
                metric: 'temperature',
                above: -10,
                hysteresis: 0,
                minDurationMs: 0,
                severity: 'critical',
                labels: {},
              },
            },
          },
        ],
        sensorLabels: () => ({}),
        alertLog: log.alertLog('alerts'),
        subscriptions,
        logger: silentLogger,
      }),
    );
    return { base, log, subscriptions, minute };
  }

  it('serves the page publicly and its data with a viewer token', async () => {
    const { base, minute } = await dashboard();
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/assets/app.js">');
    // Every panel's module is served, and the modules it imports resolve.
    const app = await (await get(`${base}/assets/app.js`)).text();
    for (const [, file] of app.matchAll(/from '\.\/([a-z-]+\.js)'/g))
      expect((await get(`${base}/assets/${file}`)).status, file).toBe(200);
    expect((await get(`${base}/assets/uplot.js`)).status).toBe(200);
    expect((await get(`${base}/api/cluster`)).status).toBe(401);
    const cluster = (await (await get(`${base}/api/cluster`, viewer)).json()) as {
      nodes: { id: string; reachable: boolean; actors: number; partitions: { checkpointAgeMs: number }[] }[];
    };
    expect(cluster.nodes.map((n) => [n.id, n.reachable, n.actors])).toEqual([['solo', true, 9]]);
    expect(cluster.nodes[0]?.partitions[0]?.checkpointAgeMs).toBeGreaterThanOrEqual(0);
    const points = (await (
      await get(`${base}/api/points?sensor=st-1&metric=temperature&minutes=10`, viewer)
    ).json()) as {
      points: { t: number; count: number; mean: number; min: number; max: number }[];
    };
    expect(points.points).toEqual([
      expect.objectContaining({ t: minute, count: 3, mean: 22, min: 20, max: 24 }),
    ]);
    expect((await get(`${base}/api/points?sensor=st-1`, viewer)).status).toBe(400);
    const all = (await (await get(`${base}/api/rules`, viewer)).json()) as {
      editable: boolean;
      rules: { id: string }[];
    };
    expect([all.editable, all.rules.map((r) => r.id)]).toEqual([false, ['hot', 'freezer']]);
    // A station's rules: those that judge it, each with its own thresholds.
    const judging = async (sensor: string) =>
      (
        (await (await get(`${base}/api/rules?sensor=${sensor}`, viewer)).json()) as {
          rules: { id: string; above: number }[];
        }
      ).rules.map((r) => `${r.id} above ${r.above}`);
    expect(await judging('st-1')).toEqual(['hot above 30']);
    expect(await judging('fz-1')).toEqual(['hot above 30', 'freezer above -15']);
    expect(await judging('fz-7')).toEqual(['hot above 30', 'freezer above -10']);
  });

  it('streams the alerts as server-sent events, from a time or live', async () => {
    const { base, log, subscriptions } = await dashboard();
    log.append([
      { topic: 'alerts', messages: [alert(1)].map((a) => ({ key: a.sensorId, value: JSON.stringify(a) })) },
    ]);
    const controller = new AbortController();
    const res = await fetch(`${base}/api/alerts?since_ts=0`, {
      headers: { authorization: `Bearer ${viewer}` },
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    let text = '';
    const until = async (n: number) => {
      while ((text.match(/event: alert/g) ?? []).length < n) {
        const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (chunk.done) throw new Error('stream ended');
        text += Buffer.from(chunk.value ?? new Uint8Array()).toString();
      }
    };
    await until(1);
    log.append([
      { topic: 'alerts', messages: [alert(2)].map((a) => ({ key: a.sensorId, value: JSON.stringify(a) })) },
    ]);
    await until(2);
    expect(text).toContain(`id: ${alert(1).id}\nevent: alert\ndata: ${JSON.stringify(alert(1))}`);
    expect(text).toContain(`id: ${alert(2).id}`);
    expect(subscriptions.active).toBe(1);
    // The token's one stream is open: a second is refused with 429 and why, not a stream that ends.
    const second = await fetch(`${base}/api/alerts?since_ts=0`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect([second.status, await second.json()]).toEqual([
      429,
      { errors: [expect.stringMatching(/limits\.subscriptionsPerToken/) as unknown] },
    ]);
    controller.abort();
    for (let i = 0; i < 100 && subscriptions.active > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(subscriptions.active).toBe(0);
    // A since_id the empty log cannot hold is a 404 with the way to ask instead.
    const { base: empty } = await dashboard();
    const missing = await fetch(`${empty}/api/alerts?since_id=${'0'.repeat(32)}`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect([missing.status, await missing.json()]).toEqual([
      404,
      { errors: [expect.stringMatching(/subscribe with since_ts instead/) as unknown] },
    ]);
  });
});
