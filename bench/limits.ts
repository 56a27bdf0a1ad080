/**
 * The machine's own limits, measured in the same run as Vigil's figures:
 *   - a bare kafkajs consumer reading the benchmark topic (the client library's limit here);
 *   - MQTT publish-to-subscriber through Mosquitto with MQTT.js at QoS 1 (the bridge's protocol).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { connectAsync } from 'mqtt';
import type { Say } from './lib.js';

/** A consumer of its own group reading `topic` from the start until it has `total` records: records/s. */
export async function bareKafkaConsumer(
  kafka: Kafka,
  topic: string,
  total: number,
  say: Say,
): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-bare-${randomUUID()}`,
    maxBytesPerPartition: 1024 * 1024,
    maxWaitTimeInMs: 1_000,
  });
  await consumer.connect();
  let seen = 0;
  let first = 0;
  let firstBatch = 0;
  let last = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: ({ batch }) => {
        // Timed from the first batch's arrival: what came in it is left out of the rate.
        let n = 0;
        // Touch every value, as a consumer that does anything must.
        for (const m of batch.messages) if (m.value !== null) n++;
        if (first === 0) {
          first = performance.now();
          firstBatch = n;
        }
        seen += n;
        last = performance.now();
        if (seen >= total) done();
        return Promise.resolve();
      },
    });
    await finished;
  } finally {
    await consumer.disconnect();
  }
  const rate = (seen - firstBatch) / Math.max(0.001, (last - first) / 1000);
  say(`    bare kafkajs consumer: ${seen} records in ${((last - first) / 1000).toFixed(2)} s`);
  return rate;
}

/** `total` QoS 1 messages published as fast as acknowledged, received by a subscriber: messages/s. */
export async function bareMqtt(url: string, total: number, payload: string, say: Say): Promise<number> {
  const topic = `bench/${randomUUID()}/readings`;
  const sub = await connectAsync(url, { clean: true });
  const pub = await connectAsync(url, { clean: true });
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  sub.on('message', () => {
    if (++received >= total) done();
  });
  await sub.subscribeAsync(topic, { qos: 1 });
  const started = performance.now();
  // A window of publishes in flight, as a busy station gateway would keep.
  const WINDOW = 500;
  for (let i = 0; i < total; i += WINDOW) {
    const n = Math.min(WINDOW, total - i);
    await Promise.all(Array.from({ length: n }, () => pub.publishAsync(topic, payload, { qos: 1 })));
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([sub.endAsync(), pub.endAsync()]);
  say(`    bare MQTT (QoS 1, Mosquitto): ${total} messages in ${seconds.toFixed(2)} s`);
  return total / seconds;
}
