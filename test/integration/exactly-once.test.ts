import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type { Kafka } from 'kafkajs';
import { buildConfig, TOPIC_NAMES, type VigilConfig } from '../../src/config/load.js';
import type { Alert, RollupRecord, WindowResult } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/log.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { KafkaLogProducer } from '../../src/transport/kafka/kafka-log.js';
import { ensureTopics } from '../../src/transport/kafka/topics.js';
import {
  acceptanceInput,
  acceptancePipeline,
  compare,
  PARTITIONS,
  REFERENCE_CONFIG,
  type EngineOutput,
} from '../support/acceptance.js';
import { collectUntil, header, json, uniquePrefix } from '../support/kafka.js';
import { exited, startNodeProcess, waitForProgress, writeConfig } from '../support/node-process.js';
import { reference, type RefOutput } from '../support/reference.js';

const STATIONS = 1_000;
const READINGS = 100_000;

/**
 * The stateful engine's acceptance test on the real stack: a seeded stream of 100,000 readings from
 * 1,000 stations (with repeats, out-of-order, late and malformed records) through a node running as
 * its own process, on Apache Kafka and Redis; everything it produced is compared with the
 * independent reference computation. Once undisturbed, once with a SIGKILL in the middle.
 */
describe('exactly-once on Kafka and Redis against the reference', () => {
  const input = acceptanceInput(STATIONS, READINGS, 2026);
  let expected: RefOutput;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    expected = reference(input, REFERENCE_CONFIG);
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
  });

  async function setUp(label: string): Promise<{ config: VigilConfig; kafka: Kafka; file: string }> {
    const prefix = uniquePrefix(label);
    const raw = {
      node: { id: label },
      log: { level: 'warn' },
      kafka: {
        topicPrefix: prefix,
        groupId: `${prefix}engine`,
        partitions: { readings: PARTITIONS },
        sessionTimeout: '6s',
      },
      redis: { keyPrefix: prefix },
      checkpoint: { interval: '500ms', store: 'redis' },
      pipeline: acceptancePipeline(),
    };
    const config = buildConfig(raw);
    const kafka = createKafka(config.kafka, silentLogger);
    await ensureTopics(
      kafka,
      TOPIC_NAMES.map((r) => ({ topic: config.kafka.topics[r], numPartitions: config.kafka.partitions[r] })),
      silentLogger,
    );
    const producer = new KafkaLogProducer(kafka);
    for (let i = 0; i < input.length; i += 5_000) {
      await producer.send([{ topic: config.kafka.topics.readings, messages: input.slice(i, i + 5_000) }]);
    }
    await producer.close();
    return { config, kafka, file: writeConfig(label, raw) };
  }

  async function gather(config: VigilConfig, kafka: Kafka): Promise<EngineOutput> {
    const t = config.kafka.topics;
    const want = {
      [t.aggregates]: expected.windows.size,
      [t.alerts]: expected.alerts.size,
      [t.late]: expected.late.size,
      [t.dlq]: expected.dlq.size,
    };
    const records = await collectUntil(
      kafka,
      [t.aggregates, t.alerts, t.late, t.dlq],
      (rs) => {
        const ids = new Map<string, Set<string>>();
        for (const r of rs) {
          const set = ids.get(r.topic) ?? new Set();
          set.add(header(r, 'vigil-id') ?? '');
          ids.set(r.topic, set);
        }
        return Object.entries(want).every(([topic, n]) => (ids.get(topic)?.size ?? 0) >= n);
      },
      { timeoutMs: 120_000, settleMs: 2_000 },
    );
    const of = (topic: string) => records.filter((r) => r.topic === topic);
    const source = (r: (typeof records)[number]) =>
      `${header(r, 'vigil-source-partition') ?? ''}:${header(r, 'vigil-source-offset') ?? ''}`;
    const store = new RedisStateStore({
      url: config.redis.url,
      keyPrefix: config.redis.keyPrefix,
      rollupTtlMs: config.rollupTtlMs,
    });
    const rollups: RollupRecord[] = [];
    for (const sensor of new Set(input.map((r) => r.key))) {
      for (const metric of ['temperature', 'humidity', 'noise_level'])
        rollups.push(...(await store.rollups(sensor, metric, 0, Number.MAX_SAFE_INTEGER)));
    }
    await store.close();
    return {
      windows: of(t.aggregates).map((r) => json(r) as WindowResult),
      alerts: of(t.alerts).map((r) => json(r) as Alert),
      late: of(t.late).map(source),
      dlq: of(t.dlq).map(source),
      rollups,
    };
  }

  it('an undisturbed node produces exactly the reference outputs', { timeout: 600_000 }, async () => {
    const { config, kafka, file } = await setUp('eo-clean');
    const node = startNodeProcess('eo-clean', file);
    children.push(node);
    await waitForProgress(
      kafka,
      config.kafka.groupId,
      config.kafka.topics.readings,
      (p) => p.committed >= p.end && p.end > 0,
      300_000,
    );
    node.kill('SIGTERM');
    expect(await exited(node)).toBe(0);
    const output = await gather(config, kafka);
    expect(expected.windows.size).toBeGreaterThan(30_000);
    expect(expected.late.size).toBeGreaterThan(300);
    expect(expected.dlq.size).toBeGreaterThan(300);
    expect(compare(output, expected)).toEqual([]);
  });

  it(
    'a node killed with SIGKILL mid-stream and started again: nothing lost, nothing counted twice',
    { timeout: 600_000 },
    async () => {
      const { config, kafka, file } = await setUp('eo-kill');
      const first = startNodeProcess('eo-kill-1', file);
      children.push(first);
      const at = await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end * 0.4,
        300_000,
      );
      first.kill('SIGKILL');
      await exited(first);
      expect(at.committed).toBeLessThan(at.end);
      const second = startNodeProcess('eo-kill-2', file);
      children.push(second);
      await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end,
        300_000,
      );
      second.kill('SIGTERM');
      expect(await exited(second)).toBe(0);
      expect(compare(await gather(config, kafka), expected)).toEqual([]);
    },
  );
});
