import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Kafka, Message, Transaction } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { LogRecord } from '../../src/core/log-record.js';
import type { WindowResult } from '../../src/core/outputs.js';
import { Random } from '../../src/sim/random.js';
import { silentLogger } from '../../src/obs/logger.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { ensureTopics, vigilTopics } from '../../src/transport/kafka/topics.js';
import { acceptanceInput, compare, REFERENCE_CONFIG, type EngineOutput } from '../support/acceptance.js';
import { acceptanceRawConfig, gatherFromKafka } from '../support/kafka-run.js';
import { collectUntil, json } from '../support/kafka.js';
import { exited, startNodeProcess, waitForProgress, writeConfig } from '../support/node-process.js';
import { reference } from '../support/reference.js';

/**
 * Offsets have gaps: a producer that is not Vigil's writes vigil.readings and vigil.logs together in
 * Kafka transactions, committed and aborted, while a node works and is SIGKILLed and started again.
 * Every transaction ends with a marker that takes an offset; an aborted one's records are skipped by
 * read-committed readers. The engine's results must be the reference's for the committed readings,
 * and its log windows the counts of the committed log lines, past every transaction and restart.
 */
describe('transactions on the real broker: gaps in offsets', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
  });

  it(
    'committed and aborted transactions over both topics, a SIGKILL: exactly the reference',
    { timeout: 480_000 },
    async () => {
      const input = acceptanceInput(120, 12_000, 31);
      const expected = reference(input, REFERENCE_CONFIG);
      const base = acceptanceRawConfig('txn', { checkpoint: { interval: '300ms' } });
      const config = buildConfig(base);
      const kafka = createKafka(config.kafka, silentLogger);
      await ensureTopics(kafka, vigilTopics(config.kafka), silentLogger);
      const file = writeConfig('txn', base);
      let node = startNodeProcess('txn-1', file);
      children.push(node);

      const producer = kafka.producer({
        transactionalId: `${config.kafka.topics.readings}.foreign-${randomBytes(3).toString('hex')}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      const random = new Random(5);
      const logs: LogRecord[] = [];
      let at = 0;
      let transactions = 0;
      let killed = false;
      while (at < input.length) {
        const size = 1 + Math.floor(random.next() * 600);
        const readings: Message[] = input.slice(at, at + size).map((r) => ({ key: r.key, value: r.value }));
        const lines = logLines(readings.length, at, random);
        const abort = random.next() < 0.25;
        await inTransaction(producer.transaction(), config, readings, lines, abort);
        if (!abort) {
          logs.push(...lines);
          at += size;
          transactions++;
        }
        if (!killed && at > input.length / 2) {
          // Mid-stream: the node dies without a checkpoint; another process takes over from Redis.
          node.kill('SIGKILL');
          await exited(node);
          node = startNodeProcess('txn-2', file);
          children.push(node);
          killed = true;
        }
      }
      // A source's idle mark, as a fetcher writes one (a documented record: any producer may): the last
      // minute of each source closes.
      const marks = [...new Set(logs.map((l) => l.source))].map((source) => ({
        key: source,
        value: JSON.stringify({
          source,
          idleAt: Math.max(...logs.filter((l) => l.source === source).map((l) => l.ts)) + 60_000,
        }),
        headers: { 'vigil-control': 'idle' },
      }));
      await inTransaction(producer.transaction(), config, [], marks, false);
      await producer.disconnect();
      expect(transactions).toBeGreaterThan(15);

      for (const topic of [config.kafka.topics.readings, config.kafka.topics.logs])
        await waitForProgress(
          kafka,
          config.kafka.groupId,
          topic,
          (p) => p.committed >= p.end && p.end > 0,
          240_000,
        );
      const sensors = new Set(input.map((r) => r.key));
      const out = await byVisibleRank(
        kafka,
        config.kafka.topics.readings,
        input.length,
        await gatherFromKafka(config, kafka, expected, sensors),
      );
      // vigil.aggregates and vigil.alerts also hold the log sources' results: those are checked below.
      const readingsOut = {
        ...out,
        windows: out.windows.filter((w) => sensors.has(w.sensorId)),
        alerts: out.alerts.filter((a) => sensors.has(a.sensorId)),
      };
      expect(compare(readingsOut, expected)).toEqual([]);

      // Log windows: per source, minute and level, the committed lines.
      const want = new Map<string, number>();
      for (const l of logs) {
        const k = `${l.source}/${Math.floor(l.ts / 60_000) * 60_000}/${l.level}`;
        want.set(k, (want.get(k) ?? 0) + 1);
      }
      const windows = await collectUntil(
        kafka,
        [config.kafka.topics.aggregates],
        (rs) => rs.filter((r) => (json(r) as WindowResult).window === 'tumbling-1m').length >= want.size,
        { timeoutMs: 60_000 },
      );
      const got = new Map<string, number>();
      for (const r of windows) {
        const w = json(r) as WindowResult;
        if (w.window === 'tumbling-1m') got.set(`${w.sensorId}/${w.start}/${w.metric}`, w.count);
      }
      expect(got).toEqual(want);
      node.kill('SIGTERM');
      expect(await exited(node)).toBe(0);
    },
  );
});

/** Log lines of two sources, in event-time order, spread over the readings' time. */
function logLines(n: number, at: number, random: Random): LogRecord[] {
  const levels = ['INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'] as const;
  return Array.from({ length: Math.max(1, Math.floor(n / 4)) }, (_, i) => ({
    source: random.next() < 0.5 ? 'billing' : 'orders',
    ts: 1_732_350_000_000 + (at + i * 4) * 50,
    level: levels[Math.floor(random.next() * levels.length)] ?? 'INFO',
    message: `line ${at}/${i}`,
  }));
}

async function inTransaction(
  begin: Promise<Transaction>,
  config: ReturnType<typeof buildConfig>,
  readings: Message[],
  lines: readonly (LogRecord | Message)[],
  abort: boolean,
): Promise<void> {
  const t = await begin;
  const logMessages = lines.map((l) => ('value' in l ? l : { key: l.source, value: JSON.stringify(l) }));
  const topicMessages = [
    ...(readings.length > 0 ? [{ topic: config.kafka.topics.readings, messages: readings }] : []),
    ...(logMessages.length > 0 ? [{ topic: config.kafka.topics.logs, messages: logMessages }] : []),
  ];
  await t.sendBatch({ topicMessages, acks: -1 });
  if (abort) await t.abort();
  else await t.commit();
}

/**
 * Late records and dead letters name their source offset; the reference numbers a partition's records
 * 0, 1, 2… as a log without gaps would. Each offset is mapped to its record's rank among those a
 * read-committed reader sees.
 */
async function byVisibleRank(
  kafka: Kafka,
  topic: string,
  count: number,
  out: EngineOutput,
): Promise<EngineOutput> {
  const perPartition = new Map<number, bigint[]>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `ranks-${randomBytes(6).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        perPartition.set(partition, [...(perPartition.get(partition) ?? []), BigInt(message.offset)]);
        seen++;
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + 60_000;
    while (seen < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    await consumer.disconnect();
  }
  const rank = new Map<string, string>();
  for (const [p, offsets] of perPartition) {
    offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    offsets.forEach((o, i) => rank.set(`${p}:${o}`, `${p}:${i}`));
  }
  const map = (ids: readonly string[]): string[] => ids.map((id) => rank.get(id) ?? `unmapped ${id}`);
  return { ...out, late: map(out.late), dlq: map(out.dlq) };
}
