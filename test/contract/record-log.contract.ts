import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/partitioner.js';
import type { ConsumedBatch, RecordConsumer, RecordProducer } from '../../src/ports/record-log.js';

export interface LogUnderTest {
  /** Creates a topic with `partitions` partitions and returns its name. */
  topic(partitions: number): Promise<string>;
  producer(): RecordProducer;
  consumer(group: string): RecordConsumer;
}

/** Runs `consumer` on `topic` until `n` records have arrived; returns them per partition, then stops. */
async function consume(
  consumer: RecordConsumer,
  topic: string | readonly string[],
  n: number,
  timeoutMs = 30_000,
): Promise<ConsumedBatch[]> {
  const batches: ConsumedBatch[] = [];
  let count = 0;
  let done!: () => void;
  const enough = new Promise<void>((resolve) => {
    done = resolve;
  });
  await consumer.start(typeof topic === 'string' ? [topic] : topic, {
    onAssignment: () => undefined,
    onFatal: () => undefined,
    onBatch: (batch) => {
      batches.push(batch);
      count += batch.records.length;
      if (count >= n) done();
      return Promise.resolve();
    },
  });
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => {
      reject(new Error(`only ${count} of ${n} records within ${timeoutMs} ms`));
    }, timeoutMs),
  );
  try {
    await Promise.race([enough, timer]);
  } finally {
    await consumer.stop();
  }
  return batches;
}

/** What every log must do: the same suite runs against the in-memory log (unit) and Kafka (integration). */
export function logContract(name: string, create: () => LogUnderTest): void {
  describe(`Log contract: ${name}`, () => {
    it('partitions by key like Kafka, keeps per-partition order, numbers offsets from 0, keeps headers', async () => {
      const log = create();
      const topic = await log.topic(3);
      const producer = log.producer();
      const keys = ['st-1', 'st-2', 'st-3', 'st-4', 'st-5'];
      const messages = Array.from({ length: 40 }, (_, i) => ({
        key: keys[i % keys.length] ?? 'x',
        value: `v${i}`,
        headers: { n: String(i) },
      }));
      await producer.send([{ topic, messages: messages.slice(0, 20) }]);
      await producer.send([{ topic, messages: messages.slice(20) }]);
      await producer.close();
      const batches = await consume(log.consumer(`g-${topic}`), topic, 40);
      const byPartition = new Map<number, { key: string; value: string; offset: string; n: string }[]>();
      for (const b of batches) {
        for (const r of b.records) {
          const list = byPartition.get(b.partition) ?? [];
          list.push({
            key: r.key?.toString() ?? '',
            value: r.value?.toString() ?? '',
            offset: r.offset,
            n: String(r.headers['n']),
          });
          byPartition.set(b.partition, list);
        }
      }
      for (const [partition, records] of byPartition) {
        expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => String(i)));
        for (const r of records) expect(partitionForKey(r.key, 3)).toBe(partition);
        const sent = messages.filter((m) => partitionForKey(m.key, 3) === partition).map((m) => m.value);
        expect(records.map((r) => r.value)).toEqual(sent);
        for (const r of records) expect(r.n).toBe(r.value.slice(1));
      }
      expect([...byPartition.values()].reduce((a, r) => a + r.length, 0)).toBe(40);
    });

    it('one member reads every partition of several topics, each batch from one partition', async () => {
      const log = create();
      const a = await log.topic(2);
      const b = await log.topic(1);
      const producer = log.producer();
      await producer.send([
        { topic: a, messages: Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `a${i}` })) },
        { topic: b, messages: Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, value: `b${i}` })) },
      ]);
      await producer.close();
      const batches = await consume(log.consumer(`g-${a}-${b}`), [a, b], 10);
      const values = batches.flatMap((batch) =>
        batch.records.map((r) => {
          const v = r.value?.toString() ?? '';
          expect(v.startsWith(batch.topic === a ? 'a' : 'b')).toBe(true);
          return v;
        }),
      );
      expect(values.sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0', 'b1', 'b2', 'b3']);
    });

    it('a member of the same group resumes at the committed offset; seek rewinds', async () => {
      const log = create();
      const topic = await log.topic(1);
      const producer = log.producer();
      await producer.send([
        { topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: `v${i}` })) },
      ]);
      const group = `g-${topic}`;
      const first = log.consumer(group);
      const seen: string[] = [];
      let ready!: () => void;
      const got = new Promise<void>((resolve) => {
        ready = resolve;
      });
      let committed = false;
      await first.start([topic], {
        onAssignment: () => undefined,
        onFatal: () => undefined,
        onBatch: async (batch) => {
          for (const r of batch.records) seen.push(r.value?.toString() ?? '');
          if (!committed && seen.length >= 10) {
            committed = true;
            await first.commit({ topic, partition: 0 }, '6');
            ready();
          }
        },
      });
      await got;
      await first.stop();
      await producer.send([{ topic, messages: [{ key: 'k', value: 'v10' }] }]);
      await producer.close();
      const resumed = await consume(log.consumer(group), topic, 5);
      expect(resumed.flatMap((b) => b.records.map((r) => r.value?.toString()))).toEqual([
        'v6',
        'v7',
        'v8',
        'v9',
        'v10',
      ]);

      const rewinding = log.consumer(`${group}-seek`);
      const values: string[] = [];
      let sought = false;
      let finished!: () => void;
      const end = new Promise<void>((resolve) => {
        finished = resolve;
      });
      await rewinding.start([topic], {
        onAssignment: () => undefined,
        onFatal: () => undefined,
        onBatch: (batch) => {
          for (const r of batch.records) values.push(r.value?.toString() ?? '');
          if (!sought && values.length >= 11) {
            sought = true;
            rewinding.seek({ topic, partition: 0 }, '9');
          } else if (sought && values.length >= 13) finished();
          return Promise.resolve();
        },
      });
      await end;
      await rewinding.stop();
      expect(values.slice(11, 13)).toEqual(['v9', 'v10']);
    });
  });
}
