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
import { sendOrDeadLetter } from '../../src/engine/send-or-dead-letter.js';
import { collectUntil, header, readToEnd, uniquePrefix } from '../support/kafka.js';

const prefix = uniquePrefix('ports');

stateStoreContract(
  'redis',
  () =>
    new RedisStateStore({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: prefix,
      rollupTtlMs: 3_600_000,
      rawTtlMs: 3_600_000,
    }),
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

  it('loses nothing after a request the broker took in part: the refused record is a dead letter, the rest written', async () => {
    const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'contract' }, silentLogger);
    const readings = `${prefix}partial.readings`;
    const dlq = `${prefix}partial.dlq`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: readings,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '100000' }],
        },
        { topic: dlq, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    const producer = new KafkaRecordProducer(kafka);
    const letter = { key: null, value: 'an earlier dead letter', headers: { 'vigil-id': 'letter-1' } };
    // One request: the dlq's partition takes the letter, the readings' partition refuses a record too
    // large for it. kafkajs then kept the dlq partition's sequence, and the refused record's own dead
    // letter, sent next to that partition, was acknowledged as a duplicate and never written.
    const refused = await sendOrDeadLetter(
      producer,
      [
        { topic: readings, messages: [{ key: 'big', value: 'y'.repeat(200_000) }] },
        { topic: dlq, messages: [letter] },
      ],
      dlq,
    );
    await producer.send([{ topic: readings, messages: [{ key: 'after', value: 'a reading after it' }] }]);
    await producer.close();
    expect(refused).toBe(1);
    expect(producer.restarts).toBeGreaterThanOrEqual(1); // a fresh producer after each refusal
    const dead = await readToEnd(kafka, dlq);
    expect(
      dead.filter((r) => header(r, 'vigil-reason')?.includes('the broker refused') === true),
    ).toHaveLength(1);
    // The letter the broker had taken is sent again with the rest: twice, never lost (readers drop by id).
    expect(dead.filter((r) => header(r, 'vigil-id') === 'letter-1')).toHaveLength(2);
    expect((await readToEnd(kafka, readings)).map((r) => r.message.value?.toString())).toEqual([
      'a reading after it',
    ]);
  });
});
