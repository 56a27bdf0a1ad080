import { describe, expect, it } from 'vitest';
import { buildConfig, TOPIC_NAMES } from '../../src/config/load.js';
import type { Alert, RollupRecord, WindowResult } from '../../src/core/outputs.js';
import { startNode } from '../../src/engine/node.js';
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
} from '../support/acceptance.js';
import { collectUntil, header, json, uniquePrefix } from '../support/kafka.js';
import { waitForProgress } from '../support/node-process.js';
import { reference } from '../support/reference.js';

/**
 * A producer faster than the engine: the whole backlog is in Kafka before the node starts. With a
 * small in-flight bound the node must pause fetching, resume, and still produce exactly the results.
 */
describe('backpressure on Kafka', () => {
  it(
    'pauses fetching above the in-flight bound, resumes, and loses nothing',
    { timeout: 300_000 },
    async () => {
      const prefix = uniquePrefix('bp');
      const config = buildConfig({
        node: { id: 'bp' },
        log: { level: 'silent' },
        kafka: {
          topicPrefix: prefix,
          groupId: `${prefix}engine`,
          partitions: { readings: PARTITIONS },
          sessionTimeout: '6s',
        },
        redis: { keyPrefix: prefix },
        checkpoint: { interval: '300ms' },
        engine: { maxInFlight: 500 },
        pipeline: acceptancePipeline(),
      });
      const input = acceptanceInput(200, 20_000, 77);
      const expected = reference(input, REFERENCE_CONFIG);
      const kafka = createKafka(config.kafka, silentLogger);
      await ensureTopics(
        kafka,
        TOPIC_NAMES.map((r) => ({
          topic: config.kafka.topics[r],
          numPartitions: config.kafka.partitions[r],
        })),
        silentLogger,
      );
      const producer = new KafkaLogProducer(kafka);
      await producer.send([{ topic: config.kafka.topics.readings, messages: input }]);
      await producer.close();

      const node = await startNode(config, silentLogger);
      await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end && p.end > 0,
        240_000,
      );
      await node.stop();
      const stats = node.engine.stats;
      expect(stats.pauses).toBeGreaterThan(0);
      expect(stats.records).toBeGreaterThanOrEqual(input.length);

      const t = config.kafka.topics;
      const records = await collectUntil(
        kafka,
        [t.aggregates, t.alerts, t.late, t.dlq],
        (rs) =>
          new Set(rs.map((r) => header(r, 'vigil-id'))).size >=
          expected.windows.size + expected.alerts.size + expected.late.size + expected.dlq.size,
        { timeoutMs: 60_000 },
      );
      const of = (topic: string) => records.filter((r) => r.topic === topic);
      const source = (r: (typeof records)[number]) =>
        `${header(r, 'vigil-source-partition') ?? ''}:${header(r, 'vigil-source-offset') ?? ''}`;
      const store = new RedisStateStore({ url: config.redis.url, keyPrefix: prefix, rollupTtlMs: 3_600_000 });
      const rollups: RollupRecord[] = [];
      for (const sensor of new Set(input.map((r) => r.key))) {
        for (const metric of ['temperature', 'humidity', 'noise_level'])
          rollups.push(...(await store.rollups(sensor, metric, 0, Number.MAX_SAFE_INTEGER)));
      }
      await store.close();
      const output = {
        windows: of(t.aggregates).map((r) => json(r) as WindowResult),
        alerts: of(t.alerts).map((r) => json(r) as Alert),
        late: of(t.late).map(source),
        dlq: of(t.dlq).map(source),
        rollups,
      };
      expect(compare(output, expected)).toEqual([]);
    },
  );
});
