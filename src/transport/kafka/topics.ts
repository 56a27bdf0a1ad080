import type { Kafka } from 'kafkajs';
import type { Logger } from '../../obs/logger.js';
import { fromKafkaError } from './errors.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
}

/**
 * Creates the topics that do not exist yet, with the partition counts from the config. Existing topics
 * are left as they are (a partition count is never changed behind an operator's back). Broker-side
 * auto-creation is off, so this is the only place Vigil's topics come from.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: readonly TopicSpec[],
  logger: Logger,
): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.numPartitions, replicationFactor: -1 })),
    });
    logger.info({ topics: missing.map((s) => s.topic) }, 'created topics');
    return missing.map((s) => s.topic);
  } catch (err) {
    throw fromKafkaError(err, 'creating topics');
  } finally {
    await admin.disconnect();
  }
}
