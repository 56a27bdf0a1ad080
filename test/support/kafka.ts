import { randomBytes } from 'node:crypto';
import { Partitioners, type Kafka, type KafkaMessage, type Message } from 'kafkajs';

/** A prefix no other run uses, for topics and consumer groups: runs never see each other's data. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}.`;
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

export interface Collected {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/**
 * Reads `topics` from the beginning with a fresh group until `done(all)` holds, then keeps reading for
 * `settleMs` more so that anything produced beyond the expectation is caught too. Throws on timeout.
 */
export async function collectUntil(
  kafka: Kafka,
  topics: readonly string[],
  done: (records: readonly Collected[]) => boolean,
  {
    timeoutMs = 60_000,
    settleMs = 1_500,
    describe,
  }: {
    timeoutMs?: number;
    settleMs?: number;
    /** What the timeout's error should tell of the records read so far, beyond counts per topic. */
    describe?: (records: readonly Collected[]) => string;
  } = {},
): Promise<Collected[]> {
  const records: Collected[] = [];
  const consumer = kafka.consumer({ groupId: `collector-${randomBytes(6).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        records.push({ topic, partition, message });
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!done(records)) {
      if (Date.now() > deadline) {
        const perTopic = new Map<string, number>();
        for (const r of records) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
        const counts = [...perTopic].map(([t, n]) => `${t}: ${n}`).join(', ');
        const more = describe === undefined ? '' : `: ${describe(records)}`;
        throw new Error(`timed out after ${timeoutMs} ms with ${records.length} records (${counts})${more}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return records;
  } finally {
    await consumer.disconnect();
  }
}

export function json(c: Collected): unknown {
  return JSON.parse(c.message.value?.toString('utf8') ?? 'null');
}

export function header(c: Collected, name: string): string | undefined {
  return c.message.headers?.[name]?.toString();
}

/** Every record a topic holds now (up to each partition's end when called). */
export async function readToEnd(kafka: Kafka, topic: string): Promise<Collected[]> {
  const admin = kafka.admin();
  await admin.connect();
  let total = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  return collectUntil(kafka, [topic], (rs) => rs.length >= total, { settleMs: 0 });
}
