import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accumulate, newAccumulator, snapshotAccumulator } from '../../src/core/aggregate.js';
import { parseInstant, planMetricsRequest } from '../../src/core/metrics-request.js';
import type { RollupRecord } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { metricsApiRoutes } from '../../src/transport/http/metrics-api.js';
import { startEmbedded } from '../../src/node/node.js';
import { tidy } from '../../src/core/rollup-query.js';
import { embeddedConfig, feed, settled } from '../support/embedded.js';
import { startHttpServer } from '../../src/transport/http/server.js';
import { buildConfig, querySettings } from '../../src/config/load.js';
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
    routes: metricsApiRoutes(store, { rawTtlMs: 3_600_000, maxSeriesMinutes: 10_000 }),
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
        interval: {
          from: '2026-11-23T15:12:00.000Z',
          to: '2026-11-23T15:13:00.000Z',
          bounds: '[from, to)',
          asOf: expect.any(String) as unknown,
        },
        errors: [
          '"st-1.humidity": unknown metric "p99x" (use count, min, max, average, mean, sum, stddev, p50, p95, p99)',
        ],
      },
    ]);
  });

  it('counts a minute an end falls inside whole when its raw readings are gone, and says so', async () => {
    // These minutes were written as rollups alone: as when their raw readings expired (rollups.rawTtl).
    const [code, body] = await post({
      'st-1.temperature': ['count'],
      from: '2026-11-23 15:12:10',
      to: '2026-11-23T15:12:30.5Z',
    });
    expect(code).toBe(200);
    expect(body).toEqual({
      result: { 'st-1.temperature': { count: 3 } },
      interval: {
        from: '2026-11-23T15:12:10.000Z',
        to: '2026-11-23T15:12:30.500Z',
        bounds: '[from, to)',
        asOf: expect.any(String) as unknown,
      },
      errors: [
        'the minute from 2026-11-23T15:12:00.000Z is counted whole: an end of the interval falls inside it, and its readings are no longer kept (rollups.rawTtl)',
      ],
    });
  });

  it('refuses a request spanning more series-minutes than limits.maxQuerySeriesMinutes, saying so', async () => {
    // temperature is two series (st-1, st-2): ten days of both are 28,800 series-minutes.
    const [code, body] = await post({
      temperature: ['count'],
      from: '2026-11-20 00:00:00',
      to: '2026-11-30 00:00:00',
    });
    expect([code, body]).toEqual([
      400,
      {
        result: {},
        errors: [
          'the request spans 28,800 series-minutes (2 series × 14,400 minutes), more than 10,000 (limits.maxQuerySeriesMinutes): ask a shorter range or fewer sensors',
        ],
      },
    ]);
    // One of them for three days is within it.
    expect(
      (await post({ 'st-2': ['count'], from: '2026-11-21 00:00:00', to: '2026-11-24 00:00:00' }))[1],
    ).toMatchObject({ result: { 'st-2': { count: 1 } } });
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
 * The IoT metrics contract this API follows, over readings the engine itself took (embedded mode):
 * sensors temperature, humidity and pressure, one value each, one reading a second from 15:12:00 to
 * 15:14:30. Minutes 15:12 and 15:13 are closed (rollups), 15:14 is still open (raw readings only).
 * Its three documented requests: a valid one; one with a wrong metric and a wrong key (the result of
 * the rest, and two errors); one with only wrong keys (400, an empty result, the errors). Then ends
 * inside minutes, the open minute, and both kinds of bounds.
 */
describe('the metrics contract, over readings the engine took', () => {
  const C = Date.parse('2020-01-13T15:12:00Z');
  const SENSORS: Record<string, (i: number) => number> = {
    temperature: (i) => 20 + (i % 5),
    humidity: (i) => (i % 2 === 0 ? 40 : 60),
    pressure: () => 1013,
  };
  const LAST = 150; // 15:14:30
  let node: Awaited<ReturnType<typeof startEmbedded>>;
  let api: Awaited<ReturnType<typeof startHttpServer>>;
  let url = '';

  beforeAll(async () => {
    const config = embeddedConfig({ pipeline: { ...acceptancePipeline(), metrics: ['value'] } });
    node = await startEmbedded(config, silentLogger);
    const input = [];
    for (let i = 0; i <= LAST; i++)
      for (const [sensorId, f] of Object.entries(SENSORS))
        input.push({
          key: sensorId,
          value: JSON.stringify({ sensorId, ts: C + i * 1000, values: { value: f(i) } }),
        });
    feed(node.records, config, input);
    await settled(node.records, config);
    api = await startHttpServer({
      listen: '127.0.0.1:0',
      tokens: TokenAuthority.parse(`viewer=${viewer}`),
      routes: metricsApiRoutes(node.store, querySettings(config)),
      logger: silentLogger,
      limits: HTTP_LIMITS,
    });
    url = `http://127.0.0.1:${api.port}/compute/metrics`;
  });

  afterAll(async () => {
    await api.stop();
    await node.stop();
  });

  const post = async (body: unknown): Promise<[number, unknown]> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}` },
      body: JSON.stringify(body),
    });
    return [res.status, await res.json()];
  };
  /** What the readings in [from, to) of one sensor give, taken one by one. */
  const direct = (sensorId: string, from: number, to: number) => {
    const f = SENSORS[sensorId] as (i: number) => number;
    const values: number[] = [];
    for (let i = 0; i <= LAST; i++) if (C + i * 1000 >= from && C + i * 1000 < to) values.push(f(i));
    const sum = values.reduce((a, b) => a + b, 0);
    return {
      count: values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      average: tidy(sum / values.length),
    };
  };
  const when = { from: '2020-01-13 15:12:00', to: '2020-01-13 15:13:00' };
  const interval = (bounds: string, from = '15:12:00.000', to = '15:13:00.000') => ({
    from: `2020-01-13T${from}Z`,
    to: `2020-01-13T${to}Z`,
    bounds,
    asOf: expect.any(String) as unknown,
  });

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
        interval: interval('[from, to)'),
        errors: [],
      },
    ]);
  });

  it('a wrong metric and a wrong key: the result of the rest, and two errors', async () => {
    expect(await post({ temperature: ['count', 'median'], wind: ['max'], ...when })).toEqual([
      200,
      {
        result: { temperature: { count: 60 } },
        interval: interval('[from, to)'),
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

  it("the contract's inclusive to: 61 readings from 15:12:00 to 15:13:00 with bounds [from, to]", async () => {
    const [code, body] = await post({
      temperature: ['count', 'min', 'max', 'average'],
      ...when,
      bounds: '[from, to]',
    });
    expect(code).toBe(200);
    expect(body).toEqual({
      result: { temperature: direct('temperature', C, C + 60_001) },
      interval: interval('[from, to]'),
      errors: [],
    });
    expect((body as { result: { temperature: { count: number } } }).result.temperature.count).toBe(61);
    const [bad, refused] = await post({ temperature: ['count'], ...when, bounds: '(from, to)' });
    expect([bad, refused]).toEqual([
      400,
      { result: {}, errors: ['bounds "(from, to)": give "[from, to)" (the default) or "[from, to]"'] },
    ]);
  });

  it('ends inside minutes, to the millisecond, from closed minutes and the open one', async () => {
    const cases: [string, string][] = [
      ['15:12:00', '15:12:30'], // half a closed minute
      ['15:12:10.500', '15:13:20'], // both ends inside closed minutes
      ['15:12:59.999', '15:13:00.001'], // two milliseconds: one reading
      ['15:14:00', '15:15:00'], // the open minute
      ['15:13:30', '15:14:10.250'], // from a closed minute into the open one
      ['15:12:00', '15:20:00'], // everything
    ];
    for (const [from, to] of cases) {
      const [f, t] = [Date.parse(`2020-01-13T${from}Z`), Date.parse(`2020-01-13T${to}Z`)];
      const [code, body] = await post({
        temperature: ['count', 'min', 'max', 'average'],
        from: `2020-01-13 ${from}`,
        to: `2020-01-13T${to}Z`,
      });
      expect([code, body], `${from} to ${to}`).toEqual([
        200,
        {
          result: { temperature: direct('temperature', f, t) },
          interval: interval(
            '[from, to)',
            new Date(f).toISOString().slice(11, 23),
            new Date(t).toISOString().slice(11, 23),
          ),
          errors: [],
        },
      ]);
    }
    expect(
      direct('temperature', Date.parse('2020-01-13T15:14:00Z'), Date.parse('2020-01-13T15:15:00Z')).count,
    ).toBe(31);
  });
});
