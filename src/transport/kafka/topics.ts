import type { Kafka } from 'kafkajs';
import { TOPIC_NAMES, type TopicRole } from '../../config/load.js';
import { ConfigError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import { fromKafkaError } from './errors.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  /**
   * Records stamped with the broker's own time (LogAppendTime): the engine bounds event time by it
   * (limits.maxFuture), and a producer's clock cannot forge it.
   */
  readonly brokerTime?: boolean;
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
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: -1,
          ...(s.brokerTime === true
            ? { configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }
            : {}),
        })),
      });
      logger.info({ topics: missing.map((s) => s.topic) }, 'created topics');
    }
    // Every node computes a key's partition from the configured count: it must be the topic's.
    const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
    for (const spec of specs) {
      const actual = topics.find((t) => t.name === spec.topic)?.partitions.length;
      if (actual !== undefined && actual !== spec.numPartitions)
        throw new ConfigError(
          'kafka.partitions',
          `topic ${spec.topic} has ${actual} partitions and the config says ${spec.numPartitions}: set the config to ${actual} (a partition count is never changed behind an operator's back)`,
        );
    }
    return missing.map((s) => s.topic);
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw fromKafkaError(err, 'creating topics');
  } finally {
    await admin.disconnect();
  }
}

/** Vigil's topics for a config: every role with its partition count; the ingest ones on broker time. */
export function vigilTopics(kafka: {
  readonly topics: Readonly<Record<TopicRole, string>>;
  readonly partitions: Readonly<Record<TopicRole, number>>;
}): TopicSpec[] {
  return TOPIC_NAMES.map((role) => ({
    topic: kafka.topics[role],
    numPartitions: kafka.partitions[role],
    brokerTime: role === 'readings' || role === 'logs',
  }));
}
