import { describe, expect, it } from 'vitest';
import { KafkaRecordConsumer, KafkaRecordProducer } from '../../src/transport/kafka/record-log.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { ensureTopics } from '../../src/transport/kafka/topics.js';
import { KafkaSourceWriter } from '../../src/transport/kafka/source-writer.js';
import { RedisOutbox } from '../../src/transport/redis/outbox.js';
import { RedisSourceStore } from '../../src/transport/redis/source-store.js';
import { RedisStateStore } from '../../src/transport/redis/state-store.js';
import { silentLogger } from '../../src/obs/logger.js';
import { logContract } from '../contract/record-log.contract.js';
import { outboxContract } from '../contract/outbox.contract.js';
import { sourceLogContract } from '../contract/source-writer.contract.js';
import { sourceStoreContract } from '../contract/source-store.contract.js';
import { stateStoreContract } from '../contract/state-store.contract.js';
import { collectUntil, uniquePrefix } from '../support/kafka.js';

const prefix = uniquePrefix('ports');

stateStoreContract(
  'redis',
  () => new RedisStateStore({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix, rollupTtlMs: 3_600_000 }),
);

sourceStoreContract(
  'redis',
  () => new RedisSourceStore({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix }),
);

outboxContract('redis', () => new RedisOutbox({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix }));

let n = 0;
logContract('kafka', () => {
  const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'contract' }, silentLogger);
  return {
    topic: async (partitions) => {
      const topic = `${prefix}t${n++}`;
      await ensureTopics(kafka, [{ topic, numPartitions: partitions }], silentLogger);
      return topic;
    },
    producer: () => new KafkaRecordProducer(kafka),
    consumer: (group) =>
      new KafkaRecordConsumer(
        kafka,
        { groupId: group, sessionTimeoutMs: 6_000, concurrency: 3 },
        silentLogger,
      ),
  };
});

sourceLogContract(
  'kafka',
  () => {
    const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'contract' }, silentLogger);
    return {
      topics: async () => {
        const logs = `${prefix}logs${n++}`;
        const dlq = `${prefix}dlq${n++}`;
        await ensureTopics(
          kafka,
          [
            { topic: logs, numPartitions: 3 },
            { topic: dlq, numPartitions: 1 },
          ],
          silentLogger,
        );
        return { logs, dlq };
      },
      sourceLog: (source) =>
        new KafkaSourceWriter(
          kafka,
          {
            transactionalId: `${prefix}${source}`,
            groupPrefix: `${prefix}probe.`,
            sessionTimeoutMs: 6_000,
            transactionTimeoutMs: 10_000,
          },
          silentLogger,
        ),
      read: async (topic, until) => {
        const records = await collectUntil(
          kafka,
          [topic],
          (rs) => until(rs.map((r) => r.message.value?.toString() ?? '')),
          { settleMs: 500 },
        );
        return records.map((r) => r.message.value?.toString() ?? '');
      },
    };
  },
  { fences: true },
);

describe('KafkaRecordProducer', () => {
  it('combines the sends made while a request is on its way, and every caller finds its messages in order', async () => {
    const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'contract' }, silentLogger);
    const topic = `${prefix}combined`;
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }], silentLogger);
    const producer = new KafkaRecordProducer(kafka);
    const callers = 30;
    await Promise.all(
      Array.from({ length: callers }, (_, c) =>
        producer.send([
          { topic, messages: Array.from({ length: 5 }, (_, i) => ({ key: `c${c}`, value: `c${c}:${i}` })) },
        ]),
      ),
    );
    await producer.close();
    expect(producer.requests).toBeLessThan(callers / 2); // one in flight, the rest combined
    const records = await collectUntil(kafka, [topic], (rs) => rs.length >= callers * 5, { settleMs: 500 });
    const values = records.map((r) => r.message.value?.toString() ?? '');
    expect(values).toHaveLength(callers * 5);
    for (let c = 0; c < callers; c++)
      expect(values.filter((v) => v.startsWith(`c${c}:`))).toEqual([0, 1, 2, 3, 4].map((i) => `c${c}:${i}`));
    // Callers in the order they sent.
    expect(values.filter((v) => v.endsWith(':0'))).toEqual(
      Array.from({ length: callers }, (_, c) => `c${c}:0`),
    );
  });
});
