import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfigText } from '../../src/config/load.js';
import { silenceThresholds } from '../../src/core/rules/evaluate.js';
import { configErrorOf } from '../support/config-error.js';

const minimal = `
pipeline:
  windows:
    - kind: tumbling
      size: 10s
`;

describe('config', () => {
  it('fills defaults and derives topic names from the prefix', () => {
    const c = loadConfigText(minimal, 'vigil.yaml', { VIGIL_TOPIC_PREFIX: 't1.', VIGIL_NODE_ID: 'n1' });
    expect(c.nodeId).toBe('n1');
    expect(c.kafka.topics).toEqual({
      readings: 't1.vigil.readings',
      logs: 't1.vigil.logs',
      alerts: 't1.vigil.alerts',
      aggregates: 't1.vigil.aggregates',
      dlq: 't1.vigil.dlq',
      late: 't1.vigil.late',
    });
    expect(c.kafka.partitions.readings).toBe(6);
    expect(c.pipeline.windows).toEqual([{ kind: 'tumbling', sizeMs: 10_000, name: 'tumbling-10s' }]);
    expect(c.pipeline.window.aggregates).toHaveLength(12);
    expect(c.pipeline.window.withSketch).toBe(true);
    expect(c.checkpoint).toEqual({ intervalMs: 1_000, store: 'redis' });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
  });

  it('the shipped config file is valid', async () => {
    const { loadConfigFile } = await import('../../src/config/load.js');
    const c = loadConfigFile(new URL('../../config/vigil.yaml', import.meta.url).pathname, {});
    expect(c.pipeline.rules.map((r) => r.id)).toEqual([
      'temperature-high',
      'humidity-stuck',
      'noise-erratic',
      'pressure-drift',
      'station-silent',
    ]);
    expect(c.pipeline.windows.map((w) => w.name)).toEqual(['tumbling-10s', 'sliding-1m-10s']);
    expect(silenceThresholds(c.pipeline.rules)).toEqual([60_000]);
  });

  it.each([
    ['pipeline: {}', 'pipeline.windows', /expected array|Invalid input/],
    [
      `${minimal}  rules:\n    - { id: r1, kind: threshold, metric: t }\n`,
      'pipeline.rules[0]',
      /needs `above`, `below` or both/,
    ],
    [
      `${minimal}  rules:\n    - { id: r1, kind: threshold, metric: t, above: 1, below: 5 }\n`,
      'pipeline.rules[0].below',
      /`below` must be lower/,
    ],
    [
      `${minimal}  eventTime: { outOfOrderness: soon }\n`,
      'pipeline.eventTime.outOfOrderness',
      /"soon" is not a duration/,
    ],
    [
      `${minimal}  rules:\n    - { id: a, kind: threshold, metric: t, above: 1 }\n    - { id: a, kind: threshold, metric: t, above: 2 }\n`,
      'pipeline.rules[1].id',
      /duplicate rule id "a"/,
    ],
    [
      `${minimal}    - { kind: sliding, size: 10s, slide: 1m }\n`,
      'pipeline.windows[1].slide',
      /must not be longer than `size`/,
    ],
    [
      `${minimal}    - { kind: tumbling, size: 10s }\n`,
      'pipeline.windows[1]',
      /duplicate window "tumbling-10s"/,
    ],
    [
      `${minimal}  rules:\n    - { id: e, kind: count, window: tumbling-1m, metric: ERROR, above: 1 }\n`,
      'pipeline.rules[0].window',
      /no window named "tumbling-1m" \(windows: tumbling-10s\)/,
    ],
    [
      `${minimal}  rules:\n    - { id: o, kind: outlier, metric: t, zScore: 3, mean: 1 }\n`,
      'pipeline.rules[0].mean',
      /both `mean` and `stddev`/,
    ],
    [`${minimal}  rules:\n    - { id: x, kind: magic }\n`, 'pipeline.rules[0].kind', /./],
    [`${minimal}  aggregates: [count, median]\n`, 'pipeline.aggregates[1]', /./],
    [`checkpoint: { interval: 0s }\n${minimal}`, 'checkpoint.interval', /must be longer than 0/],
    [`redis: { url: 'localhost:6379' }\n${minimal}`, 'redis.url', /redis:\/\//],
    [`kafka:\n  brokers: [localhost]\n${minimal}`, 'kafka.brokers[0]', /must be host:port/],
    [`kafka:\n  partitons: {}\n${minimal}`, 'kafka', /partitons/],
  ])('names the path and the problem: %#', (text, path, message) => {
    const err = configErrorOf(() => loadConfigText(text, 'f.yaml'));
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/\(f\.yaml:\d+:\d+\)/);
    expect(err.retriable).toBe(false);
  });

  it('takes service credentials from the environment and refuses passwords in the file', () => {
    const secure = `${minimal}
kafka:
  tls: { ca: /etc/vigil/kafka-ca.pem }
  sasl: { mechanism: scram-sha-512, username: vigil }
redis:
  url: rediss://redis.internal:6380
  username: vigil
  tls: { ca: /etc/vigil/redis-ca.pem }
mqtt:
  url: mqtts://broker.internal:8883
  username: bridge
`;
    const env = {
      VIGIL_KAFKA_SASL_PASSWORD: 'k-secret',
      VIGIL_REDIS_PASSWORD: 'r-secret',
      VIGIL_MQTT_PASSWORD: 'm-secret',
    };
    const c = loadConfigText(secure, 'vigil.yaml', env);
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'vigil', password: 'k-secret' });
    expect(c.kafka.tls).toEqual({ ca: '/etc/vigil/kafka-ca.pem', rejectUnauthorized: true });
    expect(c.redis).toMatchObject({
      username: 'vigil',
      password: 'r-secret',
      url: 'rediss://redis.internal:6380',
    });
    expect(c.mqtt).toMatchObject({
      url: 'mqtts://broker.internal:8883',
      username: 'bridge',
      password: 'm-secret',
    });
    expect(c.mqtt.topics).toEqual([{ filter: 'sensors/+/readings', idLevel: 1, format: 'auto' }]);
    expect(configErrorOf(() => loadConfigText(secure, 'vigil.yaml', {})).message).toMatch(
      /kafka.sasl: is set, so VIGIL_KAFKA_SASL_PASSWORD must hold the password/,
    );
    expect(
      configErrorOf(() => loadConfigText(`${minimal}\nredis: { password: hunter2 }\n`, 'vigil.yaml', {}))
        .message,
    ).toMatch(/redis: passwords never live in the config file: set VIGIL_REDIS_PASSWORD/);
    expect(
      configErrorOf(() => loadConfigText(`${minimal}\nmqtt: { tls: { cert: c.pem } }\n`, 'vigil.yaml', {}))
        .message,
    ).toMatch(/mqtt.tls.cert: `cert` and `key` go together/);
  });

  it('advertises the listen address unless told another', () => {
    const grpc = (extra: string) =>
      loadConfigText(`${minimal}\ngrpc: { listen: '0.0.0.0:7401', insecure: true${extra} }\n`, 'v.yaml', {})
        .grpc;
    expect(grpc('')?.advertise).toBe('0.0.0.0:7401');
    expect(grpc(", advertise: 'node-1.internal:7401'")?.advertise).toBe('node-1.internal:7401');
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(configErrorOf(() => loadConfigText('pipeline: [', 'bad.yaml')).message).toMatch(
      /bad\.yaml: not valid YAML/,
    );
    const twice = configErrorOf(() => loadConfigText('a: [1,\nb: {\n', 'bad.yaml'));
    expect(twice.problems.map((p) => p.at)).toEqual(['bad.yaml:2:1', 'bad.yaml:3:1']);
    expect(twice.problems[0]?.message).toMatch(/^Flow sequence .* end with a \]$/);
  });

  it('tells every problem of a file, each at its line and column, in the order of the file', () => {
    const text = [
      'kafka:',
      '  brokers: [nohost]',
      'pipeline:',
      '  windows:',
      '    - { kind: tumbling, size: 10q }',
      '  rules:',
      '    - { id: hot, kind: threshold, metric: t, above: warm }',
      'http:',
      '  listen: nope',
    ].join('\n');
    const err = configErrorOf(() => loadConfigText(text, 'v.yaml'));
    expect(err.problems.map((p) => `${p.at ?? ''} ${p.path}`)).toEqual([
      'v.yaml:2:13 kafka.brokers[0]',
      'v.yaml:5:31 pipeline.windows[0].size',
      'v.yaml:7:53 pipeline.rules[0].above',
      'v.yaml:9:11 http.listen',
    ]);
    expect(err.message).toMatch(
      /^kafka\.brokers\[0\]: must be host:port \(v\.yaml:2:13\) \(and 3 more problem/,
    );
  });

  it('parses a single rule for the control plane, naming the field at fault', async () => {
    const { parseRule } = await import('../../src/config/load.js');
    expect(parseRule({ id: 'q', kind: 'silence', after: '1m' })).toMatchObject({
      kind: 'silence',
      afterMs: 60_000,
    });
    expect(configErrorOf(() => parseRule({ id: 'q', kind: 'threshold', metric: 't', above: 'x' })).path).toBe(
      'above',
    );
  });

  it('takes a runtime count rule naming a window of the pipeline, and refuses one naming none', async () => {
    const { parseRule } = await import('../../src/config/load.js');
    const pipeline = {
      windows: ['tumbling-10s', 'sliding-1m-10s'],
      aggregates: ['count' as const, 'mean' as const],
    };
    const count = { id: 'c', kind: 'count', metric: 'temperature', above: 3 };
    expect(parseRule({ ...count, window: 'tumbling-10s' }, pipeline)).toMatchObject({
      window: 'tumbling-10s',
    });
    const err = configErrorOf(() => parseRule({ ...count, window: 'tumbling-5s' }, pipeline));
    expect(err.path).toBe('window');
    expect(err.message).toMatch(/no window named "tumbling-5s" \(windows: tumbling-10s, sliding-1m-10s\)/);
  });

  it('takes an aggregate rule reading an aggregate its window computes, with a pending period', async () => {
    const { parseRule } = await import('../../src/config/load.js');
    const pipeline = { windows: ['tumbling-10s'], aggregates: ['count' as const, 'mean' as const] };
    const rule = { id: 'hot', kind: 'aggregate', window: 'tumbling-10s', metric: 'temperature' };
    expect(parseRule({ ...rule, aggregate: 'mean', above: 30, minDuration: '20s' }, pipeline)).toEqual({
      ...rule,
      aggregate: 'mean',
      above: 30,
      hysteresis: 0,
      minDurationMs: 20_000,
      keepFiringForMs: 0,
      minCount: 2,
      severity: 'warning',
      labels: {},
    });
    const notComputed = configErrorOf(() =>
      parseRule({ ...rule, aggregate: 'stddev', below: 0.01 }, pipeline),
    );
    expect(notComputed.path).toBe('aggregate');
    expect(notComputed.message).toMatch(/does not compute "stddev" \(aggregates: count, mean\)/);
    expect(configErrorOf(() => parseRule({ ...rule, aggregate: 'mean' }, pipeline)).message).toMatch(
      /needs `above`, `below` or both/,
    );
    expect(configErrorOf(() => parseRule({ ...rule, aggregate: 'median', above: 1 }, pipeline)).path).toBe(
      'aggregate',
    );
    const inFile = configErrorOf(() =>
      buildConfig({
        pipeline: {
          windows: [{ kind: 'tumbling', size: '10s' }],
          aggregates: ['count', 'mean'],
          rules: [{ ...rule, aggregate: 'p95', above: 30 }],
        },
      }),
    );
    expect(inFile.path).toBe('pipeline.rules[0].aggregate');
  });

  it('rejects a config that is not a mapping', () => {
    expect(configErrorOf(() => buildConfig([1, 2])).message).toMatch(/must be a mapping/);
  });

  it("reads a sink's grouping: by rule and area by default, the area from a pattern of the id", () => {
    const sink = (group: unknown) =>
      buildConfig({
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        notify: { sinks: [{ id: 'ops', kind: 'file', dir: '/tmp/x', group }] },
      }).notify.sinks[0];
    expect(sink(undefined)?.group).toBeUndefined();
    const g = sink({ area: '^(st-\\d{3})' })?.group;
    expect([g?.by, g?.waitMs, g?.area?.exec('st-0012')?.[1]]).toEqual([['rule', 'area'], 10_000, 'st-001']);
    expect(configErrorOf(() => sink({ area: '(' })).message).toMatch(
      /notify\.sinks\[0\]\.group\.area: not a regular expression/,
    );
    expect(configErrorOf(() => sink({ by: ['city'] })).message).toMatch(/notify\.sinks\[0\]\.group\.by\[0\]/);
  });

  it('reads an alertmanager sink: one URL or an HA pair, a resend period, and no grouping of its own', () => {
    const sink = (over: Record<string, unknown>) =>
      buildConfig({
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        notify: { sinks: [{ id: 'am', kind: 'alertmanager', url: 'http://am:9093/', ...over }] },
      }).notify.sinks[0];
    expect(sink({})).toMatchObject({ urls: ['http://am:9093'], resendMs: 60_000, timeoutMs: 5_000 });
    expect(sink({ url: ['http://am-0:9093', 'https://am-1:9093'], resend: '30s' })).toMatchObject({
      urls: ['http://am-0:9093', 'https://am-1:9093'],
      resendMs: 30_000,
    });
    expect(configErrorOf(() => sink({ url: 'am:9093' })).message).toMatch(
      /notify\.sinks\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(configErrorOf(() => sink({ url: [] })).message).toMatch(/notify\.sinks\[0\]\.url/);
    expect(configErrorOf(() => sink({ group: { wait: '10s' } })).message).toMatch(/group/);
  });

  it('reads http.tls: certificate and key together, a client CA optional', () => {
    const http = (tls: unknown) =>
      buildConfig({
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        http: { listen: '0.0.0.0:7500', tls },
      });
    expect(http({ cert: 'n.crt', key: 'n.key', clientCa: 'ca.crt' }).httpTls).toEqual({
      cert: 'n.crt',
      key: 'n.key',
      clientCa: 'ca.crt',
    });
    expect(configErrorOf(() => http({ cert: 'n.crt' })).message).toMatch(/http\.tls\.key/);
    expect(configErrorOf(() => http({ cert: 'n.crt', key: 'n.key', ca: 'x' })).message).toMatch(/http\.tls/);
  });
});
