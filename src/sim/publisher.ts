import { Partitioners, type Kafka } from 'kafkajs';
import type { Reading } from '../core/reading.js';
import type { Logger } from '../log.js';
import { fromKafkaError } from '../transport/kafka/errors.js';

export interface PublishOptions {
  readonly topic: string;
  /** Readings per second. */
  readonly rate: number;
  /** Stop after this many readings (undefined: run until `durationMs` or the signal). */
  readonly count?: number;
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
  /** Called about once a second with the running total. */
  readonly onProgress?: (sent: number, elapsedMs: number) => void;
}

const TICK_MS = 50;

/**
 * Publishes generated readings to Kafka at a steady rate: every tick it sends, in one batch, as many
 * readings as the rate says should have gone out by now (so a slow send is caught up, not dropped).
 */
export async function publishReadings(
  kafka: Kafka,
  generate: (ts: number) => Reading,
  options: PublishOptions,
  logger: Logger,
): Promise<number> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const started = Date.now();
  let sent = 0;
  let lastProgress = started;
  try {
    for (;;) {
      const now = Date.now();
      const elapsed = now - started;
      if (options.signal?.aborted === true) break;
      if (options.durationMs !== undefined && elapsed >= options.durationMs) break;
      if (options.count !== undefined && sent >= options.count) break;
      let due = Math.floor((elapsed / 1000) * options.rate) - sent;
      if (options.count !== undefined) due = Math.min(due, options.count - sent);
      if (due > 0) {
        const messages = new Array<{ key: string; value: string }>(due);
        for (let i = 0; i < due; i++) {
          const reading = generate(now);
          messages[i] = { key: reading.sensorId, value: JSON.stringify(reading) };
        }
        try {
          await producer.send({ topic: options.topic, messages, acks: -1 });
        } catch (err) {
          throw fromKafkaError(err, `publishing to ${options.topic}`);
        }
        sent += due;
      }
      if (now - lastProgress >= 1000) {
        lastProgress = now;
        options.onProgress?.(sent, elapsed);
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
  } finally {
    await producer.disconnect();
  }
  logger.debug({ sent }, 'publisher finished');
  return sent;
}
