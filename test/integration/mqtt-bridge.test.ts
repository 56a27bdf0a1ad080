import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { startNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { acceptancePipeline, PARTITIONS, T0 } from '../support/acceptance.js';
import { prepareKafka } from '../support/kafka-run.js';
import { collectUntil, header, json, uniquePrefix } from '../support/kafka.js';
import { exited, logPath, startNodeProcess, writeConfig } from '../support/node-process.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the bridge's log says it subscribed after `from` characters of it. */
async function subscribed(name: string, from = 0): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const log = existsSync(logPath(name)) ? readFileSync(logPath(name), 'utf8').slice(from) : '';
    if (log.includes('MQTT bridge subscribed')) return;
    await sleep(100);
  }
  throw new Error(
    `${name} did not subscribe: ${readFileSync(logPath(name), 'utf8').slice(from, from + 2000)}`,
  );
}

/**
 * The MQTT bridge with a stock publisher (mosquitto_pub, QoS 1) and two bridges sharing the topic:
 * one is SIGKILLed in the middle of the stream and started again; every reading still reaches
 * vigil.readings, malformed payloads reach vigil.dlq with their reason, and a node turns the readings
 * into window results.
 */
describe('MQTT bridge', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
  });

  it(
    'loses nothing when a bridge is killed mid-stream, and its readings come out as windows',
    { timeout: 240_000 },
    async () => {
      const prefix = uniquePrefix('mqtt');
      const topic = `${prefix}/sensors/+/readings`;
      const raw = {
        log: { level: 'info' },
        kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, partitions: { readings: PARTITIONS } },
        redis: { keyPrefix: prefix },
        // Batches of up to a second: when a bridge is killed it holds many received, unproduced messages.
        mqtt: {
          topics: [topic],
          shareGroup: prefix.replace(/[^A-Za-z0-9_-]/g, ''),
          batchMax: 5_000,
          batchDelay: '1s',
        },
        checkpoint: { interval: '500ms' },
        pipeline: acceptancePipeline(),
      };
      const file = writeConfig(`${prefix}bridge`, raw);
      const { config, kafka } = await prepareKafka(raw, []);
      const a = `${prefix}bridge-a`;
      const b = `${prefix}bridge-b`;
      const bridgeA = startNodeProcess(a, file, 'bridge');
      const bridgeB = startNodeProcess(b, file, 'bridge');
      children.push(bridgeA, bridgeB);
      await subscribed(a);
      await subscribed(b);

      const N = 3_000;
      const lines = Array.from({ length: N }, (_, i) =>
        JSON.stringify({
          sensorId: `mq-${i % 20}`,
          ts: T0 + i * 100,
          values: { temperature: 20 + (i % 7) },
          seq: Math.floor(i / 20),
        }),
      );
      const malformed = Array.from({ length: 10 }, (_, k) => `not json ${k}`);
      malformed.forEach((m, k) => lines.splice(150 * (k + 1), 0, m));
      const pub = spawn(
        'mosquitto_pub',
        ['-h', '127.0.0.1', '-p', '1883', '-q', '1', '-l', '-t', `${prefix}/sensors/mixed/readings`],
        {
          stdio: ['pipe', 'ignore', 'inherit'],
        },
      );
      let restarted: ChildProcess | undefined;
      for (let i = 0; i < lines.length; i += 50) {
        pub.stdin.write(`${lines.slice(i, i + 50).join('\n')}\n`);
        if (i === 1_200) bridgeA.kill('SIGKILL'); // messages in flight: received, not yet acknowledged
        if (i === 1_700) {
          const from = readFileSync(logPath(a), 'utf8').length;
          restarted = startNodeProcess(a, file, 'bridge'); // same client id: the session resumes
          children.push(restarted);
          await subscribed(a, from);
        }
        await sleep(100);
      }
      pub.stdin.end();
      expect(await exited(pub)).toBe(0);

      const key = (r: { sensorId: string; seq: number }): string => `${r.sensorId}#${r.seq}`;
      const records = await collectUntil(
        kafka,
        [config.kafka.topics.readings, config.kafka.topics.dlq],
        (rs) =>
          new Set(
            rs.filter((r) => r.topic === config.kafka.topics.readings).map((r) => key(json(r) as never)),
          ).size >= N && rs.filter((r) => r.topic === config.kafka.topics.dlq).length >= malformed.length,
        { timeoutMs: 60_000, settleMs: 1_000 },
      );
      const readings = records.filter((r) => r.topic === config.kafka.topics.readings);
      const ids = new Set(readings.map((r) => key(json(r) as never)));
      expect(ids.size).toBe(N); // every published reading, counted by id
      const dead = records.filter((r) => r.topic === config.kafka.topics.dlq);
      expect(new Set(dead.map((r) => r.message.value?.toString()))).toEqual(new Set(malformed));
      // Not JSON (it does not start with `{` or `[`): read as line protocol, which says where it fails.
      expect(header(dead[0] as never, 'vigil-reason')).toMatch(/^line protocol: line 1, column \d+: /);

      // A node turns them into window results.
      const node = await startNode(buildConfig(raw), silentLogger);
      try {
        const windows = await collectUntil(kafka, [config.kafka.topics.aggregates], (rs) =>
          rs.some((r) => (json(r) as { sensorId: string }).sensorId === 'mq-3'),
        );
        expect(windows.length).toBeGreaterThan(0);
      } finally {
        await node.stop();
      }
      bridgeB.kill('SIGTERM');
      restarted?.kill('SIGTERM');
      expect(await exited(bridgeB)).toBe(0);
    },
  );
});
