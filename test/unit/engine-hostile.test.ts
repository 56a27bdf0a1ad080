import { describe, expect, it } from 'vitest';
import type { WindowResult } from '../../src/core/outputs.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { CityStream } from '../../src/sim/stream.js';
import { acceptanceInput, compare, PARTITIONS, REFERENCE_CONFIG } from '../support/acceptance.js';
import { embeddedConfig, gather, sensorsOf, settled } from '../support/embedded.js';
import { reference } from '../support/reference.js';

/**
 * Records from outside, against the embedded engine (the same code a node runs): another producer's
 * partitioner, a clock in the year 3000, a burst of new sensors, readings too wide. Each must be
 * processed or dead-lettered with its reason, and the good readings' results stay exact.
 */
describe('the engine against hostile input', () => {
  const input = acceptanceInput(80, 8_000, 41);
  const expected = reference(input, REFERENCE_CONFIG);

  it(
    "another producer's partitioner, or a key that is not the sensor id: the same results",
    { timeout: 60_000 },
    async () => {
      // kcat's default partitioner (consistent_random: CRC32 of the key) on keys that are not the
      // sensor id: most readings land on a partition their sensor does not own. The engine forwards each
      // to its owner (across a restart); its results are those of a producer that partitions right.
      const readings = steadyReadings(60, 6_000);
      const foreign = await runEmbedded(readings, (log, topic, r) => {
        log.appendTo(topic, crc32(`station:${r.key}`) % PARTITIONS, [
          { key: `station:${r.key}`, value: r.value },
        ]);
      });
      const right = await runEmbedded(readings, (log, topic, r) => {
        log.append([{ topic, messages: [r] }]);
      });
      expect(foreign.forwarded).toBeGreaterThan(readings.length / 4);
      expect(right.forwarded).toBe(0);
      expect(foreign.windows.size).toBeGreaterThan(500);
      expect(foreign.windows).toEqual(right.windows);
      expect(foreign.alerts).toEqual(right.alerts);
    },
  );

  it('a reading dated in the year 3000 is a dead letter; no other sensor notices', async () => {
    const config = embeddedConfig();
    const node = await startEmbedded(config, silentLogger);
    const bomb = { sensorId: 'st-0003', ts: Date.UTC(3000, 0, 1), values: { temperature: 20 } };
    const at = input.length / 3;
    const records = [
      ...input.slice(0, at),
      { key: bomb.sensorId, value: JSON.stringify(bomb) },
      ...input.slice(at),
    ];
    node.records.append([{ topic: config.kafka.topics.readings, messages: records }]);
    await settled(node.records, config);
    await node.stop();
    const out = await gather(node.records, config, node.store, sensorsOf(input));
    const dlq = node.records.partitions(config.kafka.topics.dlq).flat();
    const reasons = dlq
      .map((r) => String(r.headers['vigil-reason']))
      .filter((r) => r.includes('limits.maxFuture'));
    expect(reasons).toHaveLength(1);
    expect(compare({ ...out, late: [], dlq: [] }, { ...expected, late: new Set(), dlq: new Set() })).toEqual(
      [],
    );
    expect(out.late.length).toBe(expected.late.size);
  });

  it(
    'a burst of 50,000 new sensors in one partition goes through in bounded steps and checkpoints',
    { timeout: 120_000 },
    async () => {
      const config = embeddedConfig({ limits: { maxSensorsPerStep: 2_000, maxDirtySensors: 5_000 } });
      const store = new MemoryStateStore();
      const commits: number[] = [];
      const commit = store.commit.bind(store);
      store.commit = (p, w) => {
        commits.push(w.sensors.size);
        return commit(p, w);
      };
      const node = await startEmbedded(config, silentLogger, new MemoryRecordLog(), store);
      const topic = config.kafka.topics.readings;
      const ts = Date.UTC(2026, 10, 1, 12);
      // 50,000 new sensors whose own partition is 0: none is forwarded, all land on one partition.
      const ids: string[] = [];
      for (let i = 0; ids.length < 50_000; i++)
        if (partitionForKey(`burst-${i}`, PARTITIONS) === 0) ids.push(`burst-${i}`);
      node.records.appendTo(
        topic,
        0,
        ids.map((id) => ({
          key: id,
          value: JSON.stringify({ sensorId: id, ts, values: { temperature: 1 } }),
        })),
      );
      await settled(node.records, config, 100_000);
      await node.stop();
      expect(Math.max(...commits)).toBeLessThanOrEqual(5_000 + 2_000);
      expect(commits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(50_000);
      expect(node.engine.stats.records).toBe(50_000);
    },
  );

  it('readings too wide, names too long, and __proto__ are dead letters with their reason', async () => {
    const config = embeddedConfig();
    const node = await startEmbedded(config, silentLogger);
    const ts = Date.UTC(2026, 10, 1, 12);
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`m${i}`, i]));
    const bad = [
      { sensorId: 'st-w', ts, values: wide },
      { sensorId: 'st-n', ts, values: { ['x'.repeat(500)]: 1 } },
      { sensorId: 's'.repeat(1_000), ts, values: { t: 1 } },
    ].map((r) => ({ key: 'st-x', value: JSON.stringify(r) }));
    bad.push({ key: 'st-p', value: `{"sensorId":"st-p","ts":${ts},"values":{"__proto__":1}}` });
    bad.push({
      key: 'st-big',
      value: JSON.stringify({ sensorId: 'st-big', ts, values: { t: 1 }, pad: 'x'.repeat(300_000) }),
    });
    const fine = {
      key: 'st-ok',
      value: JSON.stringify({
        sensorId: 'st-ok',
        ts,
        values: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`m${i}`, i])),
      }),
    };
    node.records.append([{ topic: config.kafka.topics.readings, messages: [...bad, fine] }]);
    await settled(node.records, config);
    await node.stop();
    const dlq = node.records.partitions(config.kafka.topics.dlq).flat();
    expect(dlq.map((r) => String(r.headers['vigil-reason'])).sort()).toEqual([
      'invalid reading: sensorId: 1000 characters, over limits.maxSensorIdLength (256)',
      'invalid reading: values: "__proto__" is not allowed as a metric name',
      'invalid reading: values: 10000 metrics, over limits.maxMetricsPerReading (64)',
      'invalid reading: values: a metric name of 500 characters, over limits.maxMetricNameLength (128)',
      `record of ${Buffer.byteLength(bad[4]?.value ?? '')} bytes is over limits.maxRecordBytes (262144)`,
    ]);
    // The dead letter of the oversized record is cut; its header says how long it was.
    const big = dlq.find((r) => String(r.headers['vigil-reason']).startsWith('record of'));
    expect(big?.value?.length).toBe(65_536);
    expect(Number(big?.headers['vigil-payload-bytes'])).toBeGreaterThan(300_000);
    expect(node.engine.stats.records).toBe(6);
    const windows = node.records
      .partitions(config.kafka.topics.aggregates)
      .flat()
      .map((r) => JSON.parse(r.value?.toString() ?? '') as WindowResult);
    expect(windows.every((w) => w.sensorId === 'st-ok')).toBe(true);
  });
});

/** In-order readings of `stations` stations over time, no faults: results do not depend on interleaving. */
function steadyReadings(stations: number, count: number): { key: string; value: string }[] {
  const stream = new CityStream({
    stations,
    seed: 9,
    rate: 2 * stations,
    startTs: Date.UTC(2026, 10, 1),
    metrics: ['temperature', 'humidity'],
  });
  return Array.from({ length: count }, () => stream.next());
}

/**
 * Window results and alerts (id -> JSON) of an embedded run fed by `feed`, with a restart half-way;
 * then, once everything arrived, a reading far ahead on each partition closes every window.
 */
async function runEmbedded(
  readings: readonly { key: string; value: string }[],
  feed: (log: MemoryRecordLog, topic: string, r: { key: string; value: string }) => void,
): Promise<{ windows: Map<string, string>; alerts: Map<string, string>; forwarded: number }> {
  const config = embeddedConfig({
    pipeline: {
      eventTime: { outOfOrderness: '2s', idleTimeout: '30s' },
      windows: [
        { kind: 'tumbling', size: '10s' },
        { kind: 'sliding', size: '30s', slide: '10s' },
      ],
      rules: [{ id: 'hot', kind: 'threshold', metric: 'temperature', above: 27 }],
    },
  });
  const log = new MemoryRecordLog();
  const store = new MemoryStateStore();
  const topic = config.kafka.topics.readings;
  const half = readings.length / 2;
  for (const part of [readings.slice(0, half), readings.slice(half)]) {
    const node = await startEmbedded(config, silentLogger, log, store);
    // As a live stream arrives: a little at a time, so forwards are never far behind.
    for (let i = 0; i < part.length; i += 120) {
      for (const r of part.slice(i, i + 120)) feed(log, topic, r);
      await settled(log, config);
    }
    if (part.length === readings.length - half) {
      for (let p = 0; p < PARTITIONS; p++) {
        let k = 0;
        while (partitionForKey(`zz-${k}`, PARTITIONS) !== p) k++;
        const sentinel = { sensorId: `zz-${k}`, ts: Date.UTC(2026, 10, 1, 6), values: { humidity: 1 } };
        log.append([{ topic, messages: [{ key: `zz-${k}`, value: JSON.stringify(sentinel) }] }]);
      }
      await settled(log, config);
    }
    await node.stop();
  }
  const forwarded = log
    .partitions(topic)
    .flat()
    .filter((r) => r.headers['vigil-forwarded-from'] !== undefined).length;
  const byId = (t: string) =>
    new Map(
      log
        .partitions(t)
        .flat()
        .map((r) => [String(r.headers['vigil-id']), r.value?.toString() ?? ''] as const)
        .filter(([, v]) => !v.includes('"zz-')),
    );
  return {
    windows: byId(config.kafka.topics.aggregates),
    alerts: byId(config.kafka.topics.alerts),
    forwarded,
  };
}

/** CRC32 (IEEE), as librdkafka's consistent_random partitioner hashes keys. */
function crc32(text: string): number {
  let c = 0xffffffff;
  for (const b of Buffer.from(text)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
