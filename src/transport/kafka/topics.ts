import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { TOPIC_NAMES, type TopicRole } from '../../config/load.js';
import { ConfigError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import { fromKafkaError } from './errors.js';
import { MAX_REQUEST_BYTES } from './record-log.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  /**
   * Records stamped with the broker's own time (LogAppendTime): the engine bounds event time by it
   * (limits.maxFuture), and a producer's clock cannot forge it.
   */
  readonly brokerTime?: boolean;
  /**
   * The largest record batch Vigil may write to it: the topic's max.message.bytes must take it, or a
   * valid record would be refused in the middle of a stream (checked at start).
   */
  readonly largestBatch?: number;
}

// Not a named export Node's ESM loader finds in kafkajs' CommonJS.
const { ConfigResourceTypes } = kafkajs;

/** Headers, key and the record batch's own fields, over a payload. */
const RECORD_OVERHEAD = 16 * 1024;

/** The topics whose max.message.bytes is under what Vigil writes to them: a clear error, at start. */
async function checkMessageLimits(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  const checked = specs.filter((s) => s.largestBatch !== undefined);
  if (checked.length === 0) return;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: checked.map((s) => ({
      type: ConfigResourceTypes.TOPIC,
      name: s.topic,
      configNames: ['max.message.bytes'],
    })),
  });
  for (const spec of checked) {
    const entry = resources
      .find((r) => r.resourceName === spec.topic)
      ?.configEntries.find((e) => e.configName === 'max.message.bytes');
    const limit = entry === undefined ? undefined : Number(entry.configValue);
    if (limit !== undefined && spec.largestBatch !== undefined && limit < spec.largestBatch)
      throw new ConfigError(
        'limits',
        `topic ${spec.topic} takes record batches of at most ${limit} bytes (max.message.bytes) and Vigil may write ${spec.largestBatch}: raise the topic's max.message.bytes, or lower limits.maxRecordBytes / limits.deadLetterPayloadBytes`,
      );
  }
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
    await checkMessageLimits(admin, specs);
    return missing.map((s) => s.topic);
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw fromKafkaError(err, 'creating topics');
  } finally {
    await admin.disconnect();
  }
}

/** What Vigil's own records may reach: an ingest record, a dead letter. */
export interface RecordLimits {
  readonly reading: { readonly maxRecordBytes: number };
  readonly deadLetterPayloadBytes: number;
}

/**
 * Vigil's topics for a config: every role with its partition count; the ingest ones on broker time;
 * with `limits`, the largest record batch Vigil writes to each (its produce requests are split at
 * MAX_REQUEST_BYTES; one record larger than that goes alone).
 */
export function vigilTopics(
  kafka: {
    readonly topics: Readonly<Record<TopicRole, string>>;
    readonly partitions: Readonly<Record<TopicRole, number>>;
  },
  limits?: RecordLimits,
): TopicSpec[] {
  const largest = (role: TopicRole): number => {
    if (limits === undefined) return 0;
    if (role === 'readings' || role === 'logs') return limits.reading.maxRecordBytes;
    if (role === 'dlq') return limits.deadLetterPayloadBytes;
    return 0;
  };
  return TOPIC_NAMES.map((role) => ({
    topic: kafka.topics[role],
    numPartitions: kafka.partitions[role],
    brokerTime: role === 'readings' || role === 'logs',
    ...(limits === undefined
      ? {}
      : { largestBatch: Math.max(MAX_REQUEST_BYTES, largest(role)) + RECORD_OVERHEAD }),
  }));
}
