import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { buildConfig, type VigilConfig } from '../../src/config/load.js';
import { alertId } from '../../src/core/alert-id.js';
import type { Alert, WindowResult } from '../../src/core/outputs.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { collectUntil, header, json, produce, uniquePrefix, type Collected } from '../support/kafka.js';

// Event times in one aligned 10-second window [T0, T0 + 10 s) and the next.
const T0 = 1_732_350_000_000;

/**
 * The first end-to-end slice on the real broker: known readings in through vigil.readings; the exact
 * window results, alerts, late record and dead letter read back from the output topics.
 */
describe('slice: readings -> windows and alerts on real Kafka', () => {
  const prefix = uniquePrefix('slice');
  let config: VigilConfig;
  let kafka: Kafka;
  let node: RunningNode;

  beforeAll(async () => {
    config = buildConfig({
      node: { id: 'it-node' },
      redis: { keyPrefix: prefix },
      kafka: {
        topicPrefix: prefix,
        groupId: `${prefix}engine`,
        partitions: { readings: 3, aggregates: 2, alerts: 1 },
      },
      pipeline: {
        windows: [{ kind: 'tumbling', size: '10s' }],
        aggregates: ['count', 'min', 'max', 'mean', 'sum'],
        rules: [
          {
            id: 'temp-high',
            kind: 'threshold',
            metric: 'temperature',
            above: 30,
            severity: 'critical',
            labels: { site: 'north' },
          },
        ],
      },
    });
    kafka = createKafka(config.kafka, silentLogger);
    node = await startNode(config, silentLogger);
  });

  afterAll(async () => {
    await node.stop();
  });

  it('produces the exact aggregates, alert, late record and dead letter', async () => {
    const reading = (
      sensorId: string,
      dt: number,
      values: Record<string, number>,
    ): { key: string; value: string } => ({
      key: sensorId,
      value: JSON.stringify({ sensorId, ts: T0 + dt, values }),
    });
    await produce(kafka, config.kafka.topics.readings, [
      reading('st-a', 1_000, { temperature: 20, humidity: 50 }),
      reading('st-a', 2_000, { temperature: 22, humidity: 52 }),
      reading('st-a', 5_000, { temperature: 31, humidity: 54 }), // fires temp-high
      reading('st-a', 7_000, { temperature: 24, humidity: 56 }), // resolves it
      reading('st-a', 12_000, { temperature: 25, humidity: 58 }), // watermark passes T0 + 10 s
      reading('st-a', 3_000, { temperature: 99, humidity: 1 }), // late: its window is closed
      reading('st-b', 3_000, { temperature: 10 }),
      reading('st-b', 10_500, { temperature: 12 }),
      { key: 'st-c', value: '{"sensorId":"st-c","ts":"yesterday","values":{}}' },
    ]);

    const topics = config.kafka.topics;
    const records = await collectUntil(
      kafka,
      [topics.aggregates, topics.alerts, topics.late, topics.dlq],
      (rs) => rs.length >= 7,
    );
    const of = (topic: string) => records.filter((r) => r.topic === topic);

    const aggregates = of(topics.aggregates)
      .map((r) => json(r) as WindowResult)
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(aggregates).toEqual([
      {
        id: `st-a/tumbling-10s/humidity/${T0}`,
        sensorId: 'st-a',
        metric: 'humidity',
        window: 'tumbling-10s',
        start: T0,
        end: T0 + 10_000,
        count: 4,
        min: 50,
        max: 56,
        mean: 53,
        sum: 212,
      },
      {
        id: `st-a/tumbling-10s/temperature/${T0}`,
        sensorId: 'st-a',
        metric: 'temperature',
        window: 'tumbling-10s',
        start: T0,
        end: T0 + 10_000,
        count: 4,
        min: 20,
        max: 31,
        mean: 24.25,
        sum: 97,
      },
      {
        id: `st-b/tumbling-10s/temperature/${T0}`,
        sensorId: 'st-b',
        metric: 'temperature',
        window: 'tumbling-10s',
        start: T0,
        end: T0 + 10_000,
        count: 1,
        min: 10,
        max: 10,
        mean: 10,
        sum: 10,
      },
    ]);

    const alerts = of(topics.alerts).map((r) => json(r) as Alert);
    expect(alerts).toEqual([
      {
        id: alertId('temp-high', 'st-a', T0 + 5_000, 'firing'),
        ruleId: 'temp-high',
        kind: 'threshold',
        sensorId: 'st-a',
        metric: 'temperature',
        state: 'firing',
        severity: 'critical',
        ts: T0 + 5_000,
        startedAt: T0 + 5_000,
        value: 31,
        message: 'temperature of st-a is 31, above 30',
        labels: { site: 'north' },
      },
      {
        id: alertId('temp-high', 'st-a', T0 + 5_000, 'resolved'),
        ruleId: 'temp-high',
        kind: 'threshold',
        sensorId: 'st-a',
        metric: 'temperature',
        state: 'resolved',
        severity: 'critical',
        ts: T0 + 7_000,
        startedAt: T0 + 5_000,
        value: 24,
        message: 'temperature of st-a is back to 24',
        labels: { site: 'north' },
      },
    ]);
    expect(of(topics.alerts).map((r) => header(r, 'vigil-alert-id'))).toEqual(alerts.map((a) => a.id));

    const late = of(topics.late);
    expect(late).toHaveLength(1);
    const lateRecord = late[0] as Collected;
    expect(json(lateRecord)).toEqual({
      sensorId: 'st-a',
      ts: T0 + 3_000,
      values: { temperature: 99, humidity: 1 },
    });
    expect(header(lateRecord, 'vigil-watermark')).toBe(String(T0 + 12_000));
    expect(header(lateRecord, 'vigil-reason')).toContain('too late');

    const dlq = of(topics.dlq);
    expect(dlq).toHaveLength(1);
    const dead = dlq[0] as Collected;
    expect(dead.message.value?.toString()).toBe('{"sensorId":"st-c","ts":"yesterday","values":{}}');
    expect(dead.message.key?.toString()).toBe('st-c');
    expect(header(dead, 'vigil-reason')).toMatch(
      /^invalid reading: ts: .*; values: must hold at least one metric$/,
    );
    expect(header(dead, 'vigil-source-topic')).toBe(topics.readings);
    expect(Number(header(dead, 'vigil-source-offset'))).toBeGreaterThanOrEqual(0);
  });
});
