import type { Kafka } from 'kafkajs';
import { buildConfig, type VigilConfig } from '../../src/config/load.js';
import type { Alert, WindowResult } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/obs/logger.js';
import { RedisStateStore } from '../../src/transport/redis/state-store.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { KafkaRecordProducer } from '../../src/transport/kafka/record-log.js';
import { ensureTopics, vigilTopics } from '../../src/transport/kafka/topics.js';
import type { RefOutput } from './reference.js';
import {
  acceptancePipeline,
  PARTITIONS,
  readRollups,
  type EngineOutput,
  type InputRecord,
} from './acceptance.js';
import { collectUntil, header, json, uniquePrefix } from './kafka.js';

/** The raw config of an acceptance run with its own topic, group and key prefix. */
export function acceptanceRawConfig(
  label: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const prefix = uniquePrefix(label);
  return {
    node: { id: label },
    log: { level: 'warn' },
    kafka: {
      topicPrefix: prefix,
      groupId: `${prefix}engine`,
      partitions: { readings: PARTITIONS },
      sessionTimeout: '6s',
    },
    redis: { keyPrefix: prefix },
    // The acceptance input is dated in the past: clock records (wall clock) would not be its time.
    readings: { clock: { interval: 0 } },
    pipeline: acceptancePipeline(),
    ...extra,
  };
}

/** Creates the run's topics and produces `input` to vigil.readings, in order, in batches. */
export async function prepareKafka(
  raw: Record<string, unknown>,
  input: readonly InputRecord[],
): Promise<{ config: VigilConfig; kafka: Kafka }> {
  const config = buildConfig(raw);
  const kafka = createKafka(config.kafka, silentLogger);
  await ensureTopics(kafka, vigilTopics(config.kafka, config.limits), silentLogger);
  const producer = new KafkaRecordProducer(kafka);
  for (let i = 0; i < input.length; i += 10_000) {
    await producer.send([{ topic: config.kafka.topics.readings, messages: input.slice(i, i + 10_000) }]);
  }
  await producer.close();
  return { config, kafka };
}

/** Reads back everything a run produced (until every expected id arrived) and its Redis rollups. */
export async function gatherFromKafka(
  config: VigilConfig,
  kafka: Kafka,
  expected: RefOutput,
  sensors: Iterable<string>,
): Promise<EngineOutput> {
  const t = config.kafka.topics;
  const want = new Map([
    [t.aggregates, expected.windows.size],
    [t.alerts, expected.alerts.size],
    [t.late, expected.late.size],
    [t.dlq, expected.dlq.size],
  ]);
  const records = await collectUntil(
    kafka,
    [...want.keys()],
    (rs) => {
      const ids = new Map<string, Set<string>>();
      for (const r of rs) {
        const set = ids.get(r.topic) ?? new Set<string>();
        set.add(header(r, 'vigil-id') ?? '');
        ids.set(r.topic, set);
      }
      return [...want].every(([topic, n]) => (ids.get(topic)?.size ?? 0) >= n);
    },
    { timeoutMs: 120_000, settleMs: 2_000 },
  );
  const of = (topic: string) => records.filter((r) => r.topic === topic);
  const source = (r: (typeof records)[number]) =>
    `${header(r, 'vigil-source-partition') ?? ''}:${header(r, 'vigil-source-offset') ?? ''}`;
  const store = new RedisStateStore({
    url: config.redis.url,
    keyPrefix: config.redis.keyPrefix,
    rollupTtlMs: config.rollupTtlMs,
    rawTtlMs: config.rawTtlMs,
  });
  let kept: Pick<EngineOutput, 'rollups' | 'raw'>;
  try {
    kept = await readRollups(store, sensors);
  } finally {
    await store.close();
  }
  return {
    windows: of(t.aggregates).map((r) => json(r) as WindowResult),
    alerts: of(t.alerts).map((r) => json(r) as Alert),
    late: of(t.late).map(source),
    dlq: of(t.dlq).map(source),
    ...kept,
  };
}
