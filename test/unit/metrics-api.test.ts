import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accumulate, newAccumulator, snapshotAccumulator } from '../../src/core/aggregate.js';
import { parseInstant, planMetricsRequest } from '../../src/core/metrics-request.js';
import type { RollupRecord } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { metricsApiRoutes } from '../../src/transport/http/metrics-api.js';
import { startHttpServer } from '../../src/transport/http/server.js';
import { buildConfig } from '../../src/config/load.js';
import { acceptancePipeline } from '../support/acceptance.js';

const HTTP_LIMITS = buildConfig({ pipeline: acceptancePipeline() }).http;

const T = Date.parse('2026-11-23T15:12:00Z');
const viewer = randomBytes(16).toString('hex');
const node = randomBytes(16).toString('hex');

/** One closed minute of one series holding `values`. */
function minute(sensorId: string, metric: string, at: number, values: number[]): RollupRecord {
  const acc = newAccumulator(true);
  values.forEach((v, i) => {
    accumulate(acc, v, at + i * 1000);
  });
  return { sensorId, metric, minute: at, acc: snapshotAccumulator(acc) };
}

/** A metrics API over a store holding `rollups`, on a free port. */
async function serve(
  rollups: RollupRecord[],
  store = new MemoryStateStore(),
): Promise<{ url: string; stop: () => Promise<void> }> {
  const p = { topic: 'r', partition: 0 };
  const { epoch } = await store.acquire(p);
  await store.commit(p, {
    epoch,
    offset: '1',
    partitionState: Buffer.from('{}'),
    sensors: new Map(),
    rollups,
  });
  const api = await startHttpServer({
    listen: '127.0.0.1:0',
    tokens: TokenAuthority.parse(`viewer=${viewer},node=${node}`),
    routes: metricsApiRoutes(store),
    logger: silentLogger,
    limits: HTTP_LIMITS,
  });
  return { url: `http://127.0.0.1:${api.port}/compute/metrics`, stop: () => api.stop() };
}

describe('metrics request', () => {
  const series = [
    { sensorId: 'temperature', metric: 'value' },
    { sensorId: 'st-1', metric: 'temperature' },
    { sensorId: 'st-1', metric: 'humidity' },
    { sensorId: 'st-2', metric: 'temperature' },
  ];

  it('reads the documented time forms only: UTC unless an offset is given, to the millisecond', () => {
    expect(parseInstant('2026-11-23 15:12:00')).toBe(T);
    expect(parseInstant('2026-11-23T15:12:00Z')).toBe(T);
    expect(parseInstant('2026-11-23T15:12:00')).toBe(T);
    expect(parseInstant('2026-11-23T16:12:00+01:00')).toBe(T);
    expect(parseInstant('2026-11-23 15:12:00.5')).toBe(T + 500);
    expect(parseInstant('2026-11-23 15:12')).toBe(T);
    expect(parseInstant(T)).toBe(T);
    // Other forms, the server's local zone, and impossible dates are refused.
    for (const bad of [
      'yesterday',
      '01/13/2020 10:12:00',
      '2020',
      '2020-02-30 15:12:00',
      '2026-11-23 24:00:00',
    ])
      expect(parseInstant(bad)).toBeUndefined();
    expect(parseInstant('2024-02-29 00:00:00')).toBe(Date.UTC(2024, 1, 29));
  });

  it('resolves sensor ids, sensorId.metric and metric names, and reports the rest one by one', () => {
    const plan = planMetricsRequest(
      {
        temperature: ['count'],
        'st-1.humidity': ['max', 'median'],
        humidity: ['average'],
        'st-1': ['count'],
        'st-9': ['count'],
        from: '2026-11-23 15:12:00',
        to: '2026-11-23 15:13:00',
      },
      series,
    );
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.keys.map((k) => [k.key, k.series.length, k.functions.map(([f]) => f)])).toEqual([
      ['temperature', 1, ['count']], // a sensor id comes first: the sensor "temperature"
      ['st-1.humidity', 1, ['max']],
      ['humidity', 1, ['average']],
    ]);
    expect(plan.errors).toEqual([
      '"st-1.humidity": unknown metric "median" (use count, min, max, average, mean, sum, stddev, p50, p95, p99)',
      '"st-1" is a sensor with several metrics (temperature, humidity): ask for st-1.<metric>',
      'unknown key "st-9": it is neither a sensor id, nor sensorId.metric, nor a metric name with data',
    ]);
  });

  it('refuses a request with no valid key, a bad time or a reversed range', () => {
    const to = '2026-11-23 15:13:00';
    expect(planMetricsRequest({ nope: ['count'], from: '2026-11-23 15:12:00', to }, series)).toMatchObject({
      ok: false,
    });
    expect(planMetricsRequest({ 'st-2': ['count'], from: 'soon', to }, series)).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/^from "soon": give a time such as/) as unknown],
    });
    expect(
      planMetricsRequest({ 'st-2': ['count'], from: to, to: '2026-11-23 15:12:00' }, series),
    ).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/reversed/) as unknown],
    });
  });
});

describe('POST /compute/metrics', () => {
  const store = new MemoryStateStore();
  let api: { url: string; stop: () => Promise<void> };
  let url = '';

  beforeAll(async () => {
    api = await serve(
      [
        minute('st-1', 'temperature', T, [20, 22, 24]),
        minute('st-1', 'temperature', T + 60_000, [30]), // outside [15:12, 15:13)
        minute('st-2', 'temperature', T, [10]),
        minute('st-1', 'humidity', T, [50, 70]),
        minute('st-3', 'noise', T, [54.9, 55.3]), // a running mean of 55.099999999999994
      ],
      store,
    );
    url = api.url;
  });

  afterAll(async () => {
    await api.stop();
  });

  const post = async (body: unknown, token: string | null = viewer): Promise<[number, unknown]> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return [res.status, await res.json()];
  };
  const range = { from: '2026-11-23 15:12:00', to: '2026-11-23 15:13:00' };

  it('computes every valid part and lists what it could not', async () => {
    expect(
      await post({
        'st-1.temperature': ['count', 'min', 'average'],
        temperature: ['max', 'sum'],
        'st-1.humidity': ['stddev', 'p99x'],
        ...range,
      }),
    ).toEqual([
      200,
      {
        result: {
          'st-1.temperature': { count: 3, min: 20, average: 22 },
          temperature: { max: 24, sum: 76 }, // the metric over all sensors: st-1 and st-2
          'st-1.humidity': { stddev: 10 },
        },
        interval: { from: '2026-11-23T15:12:00.000Z', to: '2026-11-23T15:13:00.000Z', bounds: '[from, to)' },
        errors: [
          '"st-1.humidity": unknown metric "p99x" (use count, min, max, average, mean, sum, stddev, p50, p95, p99)',
        ],
      },
    ]);
  });

  it('states the interval it answered, whole closed minutes, and says where that differs from the request', async () => {
    const [code, body] = await post({
      'st-1.temperature': ['count'],
      from: '2026-11-23 15:12:10',
      to: '2026-11-23T15:12:30.5Z',
    });
    expect(code).toBe(200);
    expect(body).toEqual({
      result: { 'st-1.temperature': { count: 3 } },
      interval: { from: '2026-11-23T15:12:00.000Z', to: '2026-11-23T15:13:00.000Z', bounds: '[from, to)' },
      errors: [
        'from 2026-11-23T15:12:10.000Z is inside a minute: answered from 2026-11-23T15:12:00.000Z (the rollups hold whole minutes)',
        'to 2026-11-23T15:12:30.500Z is inside a minute: answered up to 2026-11-23T15:13:00.000Z (the rollups hold whole minutes)',
      ],
    });
    const [, recent] = await post({
      'st-1.temperature': ['count'],
      from: range.from,
      to: Date.now() + 120_000,
    });
    expect((recent as { errors: string[] }).errors).toEqual([
      expect.stringMatching(/^to .* is inside a minute/) as unknown,
      expect.stringMatching(
        /^the minutes from .* on are not closed yet: their readings are not counted$/,
      ) as unknown,
    ]);
  });

  it('gives a mean that is exact in decimals as written (55.1, not 55.099999999999994)', async () => {
    expect(await post({ 'st-3.noise': ['average', 'sum', 'count'], ...range })).toMatchObject([
      200,
      { result: { 'st-3.noise': { average: 55.1, sum: 110.2, count: 2 } } },
    ]);
  });

  it('answers 400 with an empty result when nothing valid was asked, or the range is wrong', async () => {
    const [code, body] = await post({ ghost: ['count'], ...range });
    expect(code).toBe(400);
    expect(body).toEqual({ result: {}, errors: [expect.stringMatching(/unknown key "ghost"/) as unknown] });
    expect((await post({ 'st-2': ['count'], from: range.to, to: range.from }))[0]).toBe(400);
    expect((await post({ 'st-2': ['count'], from: 'later', to: range.to }))[0]).toBe(400);
    expect(await post('{not json')).toEqual([
      400,
      { result: {}, errors: [expect.stringMatching(/not valid JSON/) as unknown] },
    ]);
    // A trailing comma, in plain words with its line and column.
    expect(await post('{\n  "st-2": ["count"],\n}')).toEqual([
      400,
      { result: {}, errors: ['not valid JSON: a trailing comma before "}" at line 3, column 1; remove it'] },
    ]);
  });

  it('serves the live event frequencies of the last minute', async () => {
    const now = Math.floor(Date.now() / 1000);
    await store.addFrequencies(now - 3, {
      sensors: new Map([['st-1', 120]]),
      types: new Map([['temperature', 120]]),
    });
    const res = await fetch(url.replace('/compute/metrics', '/frequencies'), {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sensors: { 'st-1': 2 }, types: { temperature: 2 } });
  });

  it('needs a viewer token', async () => {
    expect((await post({ 'st-2': ['count'], ...range }, null))[0]).toBe(401);
    expect((await post({ 'st-2': ['count'], ...range }, node))[0]).toBe(403);
  });
});

/**
 * The IoT metrics contract this API follows: sensors temperature, humidity and pressure, each one
 * value; its three documented requests: a valid one; one with a wrong metric and a wrong key (the
 * result of the rest, and two errors); one with only wrong keys (400, an empty result, the errors).
 */
describe('the metrics contract, its three documented requests', () => {
  const C = Date.parse('2020-01-13T15:12:00Z');
  let api: { url: string; stop: () => Promise<void> };
  let url = '';
  // One reading a second through the minute 15:12: temperature 20..24, humidity 40 and 60, pressure 1013.
  const second = (f: (i: number) => number): number[] => Array.from({ length: 60 }, (_, i) => f(i));

  beforeAll(async () => {
    api = await serve([
      minute(
        'temperature',
        'value',
        C,
        second((i) => 20 + (i % 5)),
      ),
      minute(
        'humidity',
        'value',
        C,
        second((i) => (i % 2 === 0 ? 40 : 60)),
      ),
      minute(
        'pressure',
        'value',
        C,
        second(() => 1013),
      ),
    ]);
    url = api.url;
  });

  afterAll(async () => {
    await api.stop();
  });

  const post = async (body: unknown): Promise<[number, unknown]> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}` },
      body: JSON.stringify(body),
    });
    return [res.status, await res.json()];
  };
  const when = { from: '2020-01-13 15:12:00', to: '2020-01-13 15:13:00' };
  const interval = { from: '2020-01-13T15:12:00.000Z', to: '2020-01-13T15:13:00.000Z', bounds: '[from, to)' };

  it('a valid request: every metric asked of every sensor named', async () => {
    expect(
      await post({
        temperature: ['count', 'min', 'max', 'average'],
        humidity: ['average'],
        pressure: ['max'],
        ...when,
      }),
    ).toEqual([
      200,
      {
        result: {
          temperature: { count: 60, min: 20, max: 24, average: 22 },
          humidity: { average: 50 },
          pressure: { max: 1013 },
        },
        interval,
        errors: [],
      },
    ]);
  });

  it('a wrong metric and a wrong key: the result of the rest, and two errors', async () => {
    expect(await post({ temperature: ['count', 'median'], wind: ['max'], ...when })).toEqual([
      200,
      {
        result: { temperature: { count: 60 } },
        interval,
        errors: [
          '"temperature": unknown metric "median" (use count, min, max, average, mean, sum, stddev, p50, p95, p99)',
          'unknown key "wind": it is neither a sensor id, nor sensorId.metric, nor a metric name with data',
        ],
      },
    ]);
  });

  it('only wrong keys: 400 with an empty result and the errors', async () => {
    expect(await post({ wind: ['max'], rain: ['count'], ...when })).toEqual([
      400,
      {
        result: {},
        errors: [
          'unknown key "wind": it is neither a sensor id, nor sensorId.metric, nor a metric name with data',
          'unknown key "rain": it is neither a sensor id, nor sensorId.metric, nor a metric name with data',
        ],
      },
    ]);
  });
});
