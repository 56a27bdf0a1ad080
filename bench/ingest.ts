/**
 * End-to-end ingest: a backlog of readings in Kafka worked through by 1 or 3 node processes (windows,
 * rules, rollups and checkpoints on), next to a bare kafkajs consumer reading the same topic; and the
 * same pipeline fed over MQTT through the bridge.
 */
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { acceptanceRawConfig, prepareKafka } from '../test/support/kafka-run.js';
import { exited, logPath, startNodeProcess, writeConfig } from '../test/support/node-process.js';
import { bareKafkaConsumer, publishMqtt } from './limits.js';
import { benchPipeline, readings, rssMiB, sleep, untilCommitted, type Say } from './lib.js';

export interface IngestResult {
  readonly rate: number;
  readonly bare?: number;
  readonly peakRssMiB: number;
}

function rawConfig(label: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return acceptanceRawConfig(label, {
    log: { level: 'warn' },
    pipeline: benchPipeline(),
    checkpoint: { interval: '1s' },
    ...extra,
  });
}

/** Samples the nodes' resident memory until `done` settles; resolves with the peak (MiB, summed). */
function samplePeak(children: readonly ChildProcess[], done: Promise<unknown>): Promise<number> {
  let peak = 0;
  // An object, so the loop re-reads it after every await.
  const state = { over: false };
  void done.finally(() => {
    state.over = true;
  });
  return (async () => {
    while (!state.over) {
      let sum = 0;
      for (const c of children) if (c.pid !== undefined && c.exitCode === null) sum += rssMiB(c.pid);
      peak = Math.max(peak, sum);
      await sleep(500);
    }
    return peak;
  })();
}

/** Waits for the bridge's log to say it subscribed: messages published before that are not routed to it. */
async function subscribed(name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(logPath(name)) && readFileSync(logPath(name), 'utf8').includes('MQTT bridge subscribed'))
      return;
    await sleep(100);
  }
  throw new Error(`${name} did not subscribe within 30 s (see ${logPath(name)})`);
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map(exited));
}

/**
 * `count` readings of `stations` stations in Kafka before the nodes start (a producer faster than the
 * engine), then `nodes` node processes work through them: readings/s from the first checkpoint to
 * the last. The bare consumer reads the same topic first, in the same run.
 */
export async function kafkaIngest(
  nodes: number,
  count: number,
  stations: number,
  say: Say,
): Promise<IngestResult> {
  const raw = rawConfig(`bench-kafka-${nodes}`);
  say(`  producing ${count} readings of ${stations} stations into Kafka`);
  const { config, kafka } = await prepareKafka(raw, readings(stations, count, Date.now() - 3_600_000));
  const bare =
    nodes === 1 ? await bareKafkaConsumer(kafka, config.kafka.topics.readings, count, say) : undefined;
  const file = writeConfig(`bench-kafka-${nodes}-${randomUUID().slice(0, 8)}`, raw);
  say(`  ${nodes} node process(es) working through the backlog`);
  const since = Date.now();
  const children = Array.from({ length: nodes }, (_, i) =>
    startNodeProcess(`bench-node-${nodes}-${i + 1}`, file),
  );
  try {
    const done = untilCommitted(kafka, config.kafka.groupId, config.kafka.topics.readings, say, 0, since);
    const peak = samplePeak(children, done);
    const { records, seconds } = await done;
    return { rate: records / seconds, ...(bare === undefined ? {} : { bare }), peakRssMiB: await peak };
  } finally {
    await stopAll(children);
  }
}

/**
 * `count` readings published over MQTT (QoS 1) by `publishers` processes to the bridge, which
 * produces them to Kafka, where a node processes them: readings/s from the first publish until the
 * node has checkpointed them all.
 */
export async function mqttIngest(
  url: string,
  count: number,
  stations: number,
  publishers: number,
  say: Say,
): Promise<IngestResult & { published: number }> {
  const label = `bench-mqtt-${randomUUID().slice(0, 8)}`;
  // The bridge's "subscribed" line is at info; the rest stays at warn.
  const raw = rawConfig(label, { log: { level: 'warn', components: { 'mqtt-bridge': 'info' } } });
  const topicRoot = `${label}/sensors`;
  raw['mqtt'] = { url, topics: [`${topicRoot}/+/readings`], shareGroup: label, batchMax: 2_000 };
  const { config, kafka } = await prepareKafka(raw, []);
  const file = writeConfig(label, raw);
  const bridge = startNodeProcess(`${label}-bridge`, file, 'bridge');
  const node = startNodeProcess(`${label}-node`, file);
  const children = [bridge, node];
  try {
    await subscribed(`${label}-bridge`);
    say(`  publishing ${count} readings over MQTT (QoS 1, ${publishers} publisher processes)`);
    const started = performance.now();
    await publishMqtt(url, topicRoot, count, publishers, stations);
    const published = count / ((performance.now() - started) / 1000);
    const done = untilCommitted(kafka, config.kafka.groupId, config.kafka.topics.readings, say, count);
    const peak = samplePeak(children, done);
    await done;
    const seconds = (performance.now() - started) / 1000;
    return { rate: count / seconds, published, peakRssMiB: await peak };
  } finally {
    await stopAll(children);
  }
}
