import type { Kafka } from 'kafkajs';
import type { Alert__Output } from '../../../src/gen/vigil/v1/Alert.js';
import { KafkaLogProducer } from '../../../src/transport/kafka/kafka-log.js';
import type { InputRecord } from '../acceptance.js';
import type { LocalCluster } from './cluster.js';

/**
 * Offers `input` to vigil.readings at a steady `rate` (records per second), in slices every 100 ms,
 * in order; resolves when all of it is in Kafka. Producing keeps going through every fault.
 */
export async function steadyLoad(
  kafka: Kafka,
  topic: string,
  input: readonly InputRecord[],
  rate: number,
  onProgress?: (sent: number) => void,
): Promise<void> {
  const producer = new KafkaLogProducer(kafka);
  const started = Date.now();
  let sent = 0;
  try {
    while (sent < input.length) {
      const due = Math.min(input.length, Math.floor(((Date.now() - started) / 1000) * rate));
      if (due > sent) {
        await producer.send([{ topic, messages: input.slice(sent, due) }]);
        sent = due;
        onProgress?.(sent);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await producer.close();
  }
}

/**
 * An alert subscriber as a careful client would write one: it follows the cluster's alerts from one
 * node and, when that node goes away, resubscribes on another with `since_id` = the last alert it
 * holds. `received` is every alert it was given, in order, repeats included (there must be none).
 */
export class ResilientSubscriber {
  readonly received: Alert__Output[] = [];
  reconnects = 0;
  private stopped = false;
  private cancel: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(
    private readonly cluster: LocalCluster,
    private readonly live: () => readonly number[],
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.isStopped()) {
      const nodes = this.live();
      const node = nodes[attempt++ % Math.max(1, nodes.length)] ?? 1;
      const last = this.received.at(-1)?.id;
      await this.follow(node, last === undefined ? { sinceTs: '0' } : { sinceId: last });
      if (!this.isStopped()) {
        this.reconnects++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private follow(node: number, since: { sinceTs: string } | { sinceId: string }): Promise<void> {
    const c = this.cluster.connect(node);
    return new Promise<void>((resolve) => {
      const stream = c.alerts.subscribe({ ...since }, c.metadata);
      this.cancel = () => {
        stream.cancel();
      };
      stream.on('data', (a: Alert__Output) => {
        this.received.push(a);
      });
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        c.alerts.close();
        c.control.close();
        c.query.close();
        resolve();
      };
      // Any end (the node died, shut down, or we cancelled) leads back to the loop, which decides.
      stream.on('error', end);
      stream.on('end', end);
    });
  }

  /** A method, so the loop re-reads the flag after each await. */
  private isStopped(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.done;
  }
}
