/**
 * The machine's own limits, measured in the same run as Vigil's figures:
 *   - a bare kafkajs consumer reading the benchmark topic (the client library's limit here);
 *   - MQTT publish-to-subscriber through Mosquitto with MQTT.js at QoS 1 (the bridge's protocol),
 *     the load from publisher processes of their own (publishMqtt).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { connectAsync } from 'mqtt';
import { ROOT } from '../test/support/chaos/cluster.js';
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

/**
 * Publisher processes for MQTT load (bench/mqtt-publisher.ts), `total` readings between them, each
 * with stations of its own. One MQTT.js publisher tops out near 10,000 QoS 1 messages/s on this
 * machine, below what Mosquitto and the bridge take: in the benchmark's own process it would measure
 * the load generator. Resolves when every publisher is done (every message acknowledged).
 */
export function publishMqtt(
  url: string,
  root: string,
  total: number,
  publishers: number,
  stations: number,
): Promise<void> {
  const each = Math.ceil(total / publishers);
  return Promise.all(
    Array.from(
      { length: publishers },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              'bench/mqtt-publisher.ts',
              url,
              root,
              String(Math.min(each, total - i * each)),
              String(Math.ceil(stations / publishers)),
              `p${i}`,
            ],
            { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
          );
          child.on('exit', (code) => {
            if (code === 0) resolve();
            else reject(new Error(`MQTT publisher ${i} exited with ${String(code)}`));
          });
        }),
    ),
  ).then(() => undefined);
}

/** `total` QoS 1 messages from publisher processes, through Mosquitto, to one subscriber: messages/s. */
export async function bareMqtt(url: string, total: number, publishers: number, say: Say): Promise<number> {
  const root = `bench/${randomUUID()}`;
  const sub = await connectAsync(url, { clean: true });
  let received = 0;
  let first = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  sub.on('message', () => {
    if (received === 0) first = performance.now();
    if (++received >= total) done();
  });
  await sub.subscribeAsync(`${root}/+/readings`, { qos: 1 });
  const published = publishMqtt(url, root, total, publishers, 1_000);
  await Promise.all([finished, published]);
  const seconds = (performance.now() - first) / 1000;
  await sub.endAsync();
  say(
    `    bare MQTT (QoS 1, Mosquitto, ${publishers} publishers): ${total} messages in ${seconds.toFixed(2)} s`,
  );
  return total / seconds;
}
