import { describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { acceptanceInput, compare, REFERENCE_CONFIG } from '../support/acceptance.js';
import { acceptanceRawConfig, gatherFromKafka, prepareKafka } from '../support/kafka-run.js';
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
      const input = acceptanceInput(200, 20_000, 77);
      const expected = reference(input, REFERENCE_CONFIG);
      const raw = acceptanceRawConfig('bp', {
        log: { level: 'silent' },
        checkpoint: { interval: '300ms' },
        engine: { maxInFlight: 500 },
      });
      const { config, kafka } = await prepareKafka(raw, input);
      const node = await startNode(config, silentLogger);
      await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end && p.end > 0,
        240_000,
      );
      await node.stop();
      expect(node.engine.stats.pauses).toBeGreaterThan(0);
      expect(node.engine.stats.records).toBeGreaterThanOrEqual(input.length);
      expect(
        compare(await gatherFromKafka(config, kafka, expected, new Set(input.map((r) => r.key))), expected),
      ).toEqual([]);
    },
  );
});
