import type { Kafka } from 'kafkajs';
import type { Alert__Output } from '../../../src/gen/vigil/v1/Alert.js';
import type { CodecName } from '../../../src/transport/kafka/codecs.js';
import { KafkaRecordProducer } from '../../../src/transport/kafka/record-log.js';
import { partitionForKey } from '../../../src/core/partitioner.js';
import type { InputRecord } from '../acceptance.js';
import type { LocalCluster } from './cluster.js';

/**
 * Offers `input` to vigil.readings at a steady `rate` (records per second), in slices every 100 ms,
 * in order, each slice compressed with the next of `codecs`; resolves when all of it is in Kafka,
 * exactly once. Producing keeps going through every fault, the broker's restart included. A `quiet`
 * period sends nothing at all for its length.
 *
 * After a failed send, kafkajs' idempotent producer is out of step with the broker (every later send
 * is refused as out of sequence), so it is replaced, and what the failed send did land is found from
 * the partitions' end offsets (a partition's share of a request lands whole or not at all): only the
 * rest is sent again, so the oracle's input is what Kafka holds.
 */
export async function steadyLoad(
  kafka: Kafka,
  topic: string,
  input: readonly InputRecord[],
  rate: number,
  partitions: number,
  o: {
    /** Each send compressed with the next of these (a producer each), as a mix of clients would. */
    readonly codecs?: readonly CodecName[];
    /** Before record `at`, nothing is sent for `forMs` (the whole network quiet). */
    readonly quiet?: { readonly at: number; readonly forMs: number };
  } = {},
): Promise<void> {
  const codecs = o.codecs ?? ['none'];
  const producers = new Map<CodecName, KafkaRecordProducer>();
  const producerFor = (codec: CodecName): KafkaRecordProducer => {
    let p = producers.get(codec);
    if (p === undefined) producers.set(codec, (p = new KafkaRecordProducer(kafka, { compression: codec })));
    return p;
  };
  const landed = new Array<number>(partitions).fill(0);
  let started = Date.now();
  let sends = 0;
  let sent = 0;
  let paused = false;
  let pending: InputRecord[] = [];
  try {
    while (sent < input.length || pending.length > 0) {
      let due = Math.min(input.length, Math.floor(((Date.now() - started) / 1000) * rate));
      if (o.quiet !== undefined && !paused && due >= o.quiet.at) {
        due = o.quiet.at;
        if (sent >= due && pending.length === 0) {
          paused = true;
          await new Promise((resolve) => setTimeout(resolve, o.quiet?.forMs));
          started += o.quiet.forMs;
          continue;
        }
      }
      // A burst goes whole, as fast as Kafka takes it (the records after it wait their turn).
      while (due < input.length && input[due]?.burst === true) due++;
      if (due > sent) {
        pending = [...pending, ...input.slice(sent, due)];
        sent = due;
      }
      if (pending.length > 0) {
        const codec = codecs[sends++ % codecs.length] ?? 'none';
        try {
          await producerFor(codec).send([{ topic, messages: pending }]);
          for (const r of pending) {
            const p = partitionForKey(r.key, partitions);
            landed[p] = (landed[p] ?? 0) + 1;
          }
          pending = [];
        } catch {
          await producerFor(codec)
            .close()
            .catch(() => undefined);
          producers.delete(codec);
          pending = await notLanded(kafka, topic, pending, landed);
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const p of producers.values()) await p.close();
  }
}

/**
 * The records of `pending` that are not in the topic yet; `landed` is brought up to date. Waits for
 * the broker: nothing is sent again before it is known what landed.
 */
async function notLanded(
  kafka: Kafka,
  topic: string,
  pending: readonly InputRecord[],
  landed: number[],
): Promise<InputRecord[]> {
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(topic);
      const extra = new Map(ends.map((o) => [o.partition, Number(o.high) - (landed[o.partition] ?? 0)]));
      for (const [p, n] of extra) landed[p] = (landed[p] ?? 0) + n;
      return pending.filter((r) => {
        const p = partitionForKey(r.key, landed.length);
        const skip = extra.get(p) ?? 0;
        if (skip <= 0) return true;
        extra.set(p, skip - 1);
        return false;
      });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500)); // the broker is still away
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
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
