/**
 * Event-to-alert latency at a fixed offered load: readings go to Kafka at `rate` per second, each
 * stamped with the wall clock as its event time; some stations flap across a threshold so that every
 * reading of theirs is an alert; a gRPC subscriber (Alerts.Subscribe, live) notes when each alert
 * arrives. Latency = arrival − the event time of the reading that caused the alert: Kafka in, the
 * engine, vigil.alerts, the subscription, gRPC.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { clients } from '../src/cli/grpc-client.js';
import type { Alert__Output } from '../src/gen/vigil/v1/Alert.js';
import { KafkaRecordProducer } from '../src/transport/kafka/record-log.js';
import { acceptanceRawConfig, prepareKafka } from '../test/support/kafka-run.js';
import { exited, startNodeProcess, writeConfig } from '../test/support/node-process.js';
import { freePort } from '../test/support/ports.js';
import { progress } from '../test/support/node-process.js';
import { benchPipeline, percentile, sleep, type Say } from './lib.js';

export interface LatencyResult {
  readonly offered: number;
  readonly achieved: number;
  readonly alerts: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Records not yet checkpointed when the load stopped (≈ a second's worth when it kept up). */
  readonly backlogAtEnd: number;
}

/** Alerts per second the flapping stations cause, whatever the load. */
const ALERTS_PER_SECOND = 200;
const STATIONS = 1_000;

export async function latency(rate: number, durationMs: number, say: Say): Promise<LatencyResult> {
  const label = `bench-latency-${rate}`;
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  process.env['VIGIL_TOKENS'] =
    `viewer=${token},admin=${randomBytes(16).toString('hex')},node=${randomBytes(16).toString('hex')}`;
  const pipeline = benchPipeline();
  const raw = acceptanceRawConfig(label, {
    log: { level: 'warn' },
    pipeline: {
      ...pipeline,
      rules: [{ id: 'flap', kind: 'threshold', metric: 'temperature', above: 30, severity: 'warning' }],
    },
    checkpoint: { interval: '1s' },
    grpc: { listen: `127.0.0.1:${port}`, insecure: true },
  });
  const { config, kafka } = await prepareKafka(raw, []);
  const node = startNodeProcess(`${label}-${randomUUID().slice(0, 6)}`, writeConfig(label, raw));
  const producer = new KafkaRecordProducer(kafka);
  const latencies: number[] = [];
  let measuring = false;
  try {
    const { alerts, metadata } = clients({ address: `127.0.0.1:${port}`, insecure: true, token });
    for (let i = 0; i < 100; i++) {
      await sleep(200); // the node starts, joins its group and serves gRPC
      if (await serving(alerts)) break;
    }
    const stream = alerts.Subscribe({}, metadata);
    stream.on('data', (a: Alert__Output) => {
      if (measuring) latencies.push(Date.now() - Number(a.ts));
    });
    stream.on('error', () => undefined);
    await sleep(2_000);

    // Flappers: enough stations crossing 30 °C at every reading to make ALERTS_PER_SECOND alerts.
    const perStation = rate / STATIONS;
    const flappers = Math.max(1, Math.round(ALERTS_PER_SECOND / perStation));
    const hot = new Array<boolean>(STATIONS).fill(false);
    let sent = 0;
    const started = Date.now();
    // Measured after a warm-up that holds the first window closes (the 10 s windows close every 10 s
    // of event time): before the JIT has compiled the closing path, the first close of every sensor
    // at once cost a burst three times as long as the later ones.
    const warmup = started + Math.min(durationMs / 2, Math.max(durationMs / 5, 12_000));
    say(`  offering ${rate} readings/s for ${durationMs / 1000} s (${flappers} flapping stations)`);
    while (Date.now() - started < durationMs) {
      const now = Date.now();
      measuring = now >= warmup;
      const due = Math.floor(((now - started) / 1000) * rate) - sent;
      if (due > 0) {
        const messages = new Array<{ key: string; value: string }>(due);
        for (let k = 0; k < due; k++) {
          const s = (sent + k) % STATIONS;
          const sensorId = `lat-${s}`;
          let temperature = 22 + (s % 5);
          if (s < flappers) {
            hot[s] = !(hot[s] ?? false);
            temperature = hot[s] ? 35 : 20;
          }
          messages[k] = {
            key: sensorId,
            value: JSON.stringify({
              sensorId,
              ts: now,
              values: { temperature, humidity: 60, noise_level: 50 },
            }),
          };
        }
        await producer.send([{ topic: config.kafka.topics.readings, messages }]);
        sent += due;
      }
      await sleep(5);
    }
    const seconds = (Date.now() - started) / 1000;
    measuring = false;
    const backlog = await progress(kafka, config.kafka.groupId, config.kafka.topics.readings);
    await sleep(1_000);
    stream.cancel();
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      offered: rate,
      achieved: sent / seconds,
      alerts: sorted.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      backlogAtEnd: Math.max(0, backlog.end - backlog.committed),
    };
  } finally {
    await producer.close();
    node.kill('SIGTERM');
    await exited(node);
  }
}

function serving(alerts: ReturnType<typeof clients>['alerts']): Promise<boolean> {
  return new Promise((resolve) => {
    alerts.waitForReady(Date.now() + 200, (err) => {
      resolve(!(err instanceof Error));
    });
  });
}
