import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type VigilConfig } from '../../src/config/load.js';
import { ConfigError, VigilError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/obs/logger.js';
import type { RecordProducer, TopicMessages } from '../../src/ports/record-log.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { KafkaRecordProducer } from '../../src/transport/kafka/record-log.js';
import { ensureTopics, vigilTopics } from '../../src/transport/kafka/topics.js';
import { MqttBridge } from '../../src/transport/mqtt/bridge.js';
import { acceptancePipeline } from '../support/acceptance.js';
import { collectUntil, header, json, uniquePrefix, type Collected } from '../support/kafka.js';
import { OwnMosquitto } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';

const T0 = 1_795_000_000_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const reading = (sensor: string, seq: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ sensorId: sensor, ts: T0 + seq * 1_000, seq, values: { temperature: 20 }, ...extra });

/** A producer in front of the real one that holds every send until opened. */
class GatedProducer implements RecordProducer {
  private gate: Promise<void>;
  private openGate: () => void = () => undefined;
  constructor(private readonly inner: RecordProducer) {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }
  open(): void {
    this.openGate();
  }
  async send(batches: readonly TopicMessages[]): Promise<void> {
    await this.gate;
    await this.inner.send(batches);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The MQTT bridge against hostile input, on a Mosquitto of its own and the real Kafka: an oversized
 * payload and a payload the broker refuses neither stop it nor repeat what came with them; dead letters
 * have ids that do not collide; a flood finds the bridge's memory bounded; a stopped bridge gives its
 * share back; a bridge that cannot go on leaves what it held in its session.
 */
describe('MQTT bridge, hostile input', () => {
  let broker: OwnMosquitto;
  let kafka: Kafka;
  let prefix: string;
  let publisher: MqttClient | undefined;
  const pub = (): MqttClient => {
    if (publisher === undefined) throw new Error('the publisher is not connected');
    return publisher;
  };
  const running: { bridge: MqttBridge; producer: RecordProducer }[] = [];

  const config = (nodeId: string, mqtt: Record<string, unknown> = {}): VigilConfig =>
    buildConfig({
      pipeline: acceptancePipeline(),
      node: { id: nodeId },
      kafka: { topicPrefix: prefix },
      mqtt: {
        url: broker.url,
        topics: [`${prefix}/${nodeId}/+`],
        shareGroup: `${prefix.replace(/[^A-Za-z0-9_-]/g, '')}${nodeId}`,
        ...mqtt,
      },
    });

  async function bridge(
    c: VigilConfig,
    producer: RecordProducer,
    onFatal: (err: VigilError) => void = () => undefined,
  ) {
    const b = new MqttBridge({ config: c, producer, logger: silentLogger, onFatal });
    await b.start();
    running.push({ bridge: b, producer });
    return b;
  }

  const topicsOf = (c: VigilConfig) => c.kafka.topics;

  beforeAll(async () => {
    broker = new OwnMosquitto(await freePort());
    await broker.start();
    prefix = uniquePrefix('mqtt-hostile');
    const c = buildConfig({ pipeline: acceptancePipeline(), kafka: { topicPrefix: prefix } });
    kafka = createKafka(c.kafka, silentLogger);
    await ensureTopics(kafka, vigilTopics(c.kafka, c.limits), silentLogger);
    publisher = await connectAsync(broker.url, { protocolVersion: 5 });
  });

  // Each test's bridges stop as a bridge does on SIGTERM, then their producers close.
  afterEach(async () => {
    for (const { bridge: b } of running) {
      await b.drain();
      await b.close(true);
    }
    for (const { producer } of running.splice(0)) await producer.close();
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await broker.stop();
  });

  const readingsAndDead = (rs: readonly Collected[], c: VigilConfig) => ({
    readings: rs.filter((r) => r.topic === topicsOf(c).readings),
    dead: rs.filter((r) => r.topic === topicsOf(c).dlq),
  });

  it('dead-letters an oversized payload and one the broker refuses, and goes on with the rest', async () => {
    const c = config('poison');
    const producer = new KafkaRecordProducer(kafka);
    const fatal: VigilError[] = [];
    const b = await bridge(c, producer, (err) => fatal.push(err));
    // The broker takes smaller records than limits.maxRecordBytes from now on (after the start-up check).
    const admin = kafka.admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topicsOf(c).readings,
          configEntries: [{ name: 'max.message.bytes', value: '30000' }],
        },
      ],
    });
    // A topic's config reaches the broker's log layer through the metadata log: wait until it shows.
    for (let tries = 0; ; tries++) {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: topicsOf(c).readings, configNames: ['max.message.bytes'] },
        ],
      });
      if (resources[0]?.configEntries[0]?.configValue === '30000') break;
      if (tries > 100) throw new Error('the broker did not take max.message.bytes = 30000');
      await sleep(100);
    }
    await admin.disconnect();
    await sleep(500);
    const big = Buffer.alloc(2 * 1024 * 1024, 'x');
    // 500 readings of one sensor in one payload (JSON lines, in Vigil's own form): the bridge writes
    // them as one record of about 45 KB, within its records' bound, past what the broker now takes.
    const refusedByBroker = Array.from({ length: 500 }, (_, seq) =>
      JSON.stringify({ sensorId: 'poison-big', ts: T0 + seq * 1_000, values: { temperature: 20 }, seq }),
    ).join('\n');
    for (let i = 0; i < 50; i++)
      await pub().publishAsync(`${prefix}/poison/a`, reading('poison', i), { qos: 1 });
    await pub().publishAsync(`${prefix}/poison/a`, big, { qos: 1 });
    await pub().publishAsync(`${prefix}/poison/a`, refusedByBroker, { qos: 1 });
    for (let i = 50; i < 100; i++)
      await pub().publishAsync(`${prefix}/poison/a`, reading('poison', i), { qos: 1 });

    const all = await collectUntil(
      kafka,
      [topicsOf(c).readings, topicsOf(c).dlq],
      (rs) => {
        const { readings, dead } = readingsAndDead(rs, c);
        return readings.length >= 100 && new Set(dead.map((d) => header(d, 'vigil-id'))).size >= 2;
      },
      {
        settleMs: 3_000,
        describe: (rs) => {
          const { readings, dead } = readingsAndDead(rs, c);
          const seqs = new Set(readings.map((r) => (json(r) as { seq?: number }).seq));
          const letters = dead.map((d) => `${header(d, 'vigil-id')} (${header(d, 'vigil-reason')})`);
          const failed = fatal.map((e) => `${e.code}: ${e.message}`).join('; ') || 'none';
          return `${seqs.size} distinct seqs; dead letters: ${letters.join('; ')}; bridge ${JSON.stringify(b.stats)}, fatal: ${failed}`;
        },
      },
    );
    const { readings, dead } = readingsAndDead(all, c);
    expect(fatal).toEqual([]);
    const seqs = readings.map((r) => (json(r) as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(100);
    // A refused request is sent again record by record: what the broker had taken of it may come twice,
    // never more; the engine drops a repeated reading, a dead-letter reader a repeated vigil-id.
    expect(readings.length).toBeLessThanOrEqual(200);
    expect(new Set(dead.map((d) => header(d, 'vigil-id'))).size).toBe(2);
    expect(dead.length).toBeLessThanOrEqual(4);
    const over = dead.find((d) => header(d, 'vigil-payload-bytes') === String(big.length));
    expect(header(over as Collected, 'vigil-reason')).toMatch(/over limits\.maxRecordBytes/);
    expect(over?.message.value?.length).toBe(c.limits.deadLetterPayloadBytes);
    const refused = dead.find((d) => header(d, 'vigil-reason')?.includes('the broker refused') === true);
    expect(refused?.message.value?.length).toBe(512); // cut: its source names the whole
    expect(header(refused as Collected, 'vigil-payload-bytes')).toBe(
      String(Buffer.byteLength(refusedByBroker)),
    );
  });

  it('gives every different dead letter its own id, and a message sent again the same one', async () => {
    const c = config('ids');
    const producer = new KafkaRecordProducer(kafka);
    await bridge(c, producer);
    for (let i = 0; i < 100; i++) {
      await pub().publishAsync(`${prefix}/ids/x`, `bad ${i}`, { qos: (i % 2) as 0 | 1 });
    }
    await pub().publishAsync(`${prefix}/ids/x`, 'bad 7', { qos: 1 });
    const all = await collectUntil(
      kafka,
      [topicsOf(c).dlq],
      (rs) => rs.filter((r) => r.message.value?.toString().startsWith('bad ')).length >= 101,
    );
    const mine = all.filter((r) => r.message.value?.toString().startsWith('bad '));
    const idOf = new Map<string, Set<string>>();
    for (const r of mine) {
      const v = r.message.value?.toString() ?? '';
      idOf.set(v, (idOf.get(v) ?? new Set()).add(header(r, 'vigil-id') ?? ''));
    }
    expect(idOf.size).toBe(100);
    for (const ids of idOf.values()) expect(ids.size).toBe(1);
    expect(new Set([...idOf.values()].flatMap((s) => [...s])).size).toBe(100);
  });

  it('stops reading at mqtt.maxPending while Kafka does not take, then delivers all', async () => {
    const c = config('flood', { maxPending: 200, batchMax: 50 });
    const gated = new GatedProducer(new KafkaRecordProducer(kafka));
    const b = await bridge(c, gated);
    const N = 3_000;
    for (let i = 0; i < N; i++) {
      pub().publish(`${prefix}/flood/x`, reading('flood', i, { pad: 'p'.repeat(500) }), { qos: 1 });
    }
    for (let i = 0; i < 50 && b.stats.received < 200; i++) await sleep(100);
    await sleep(1_000);
    expect(b.stats.received).toBe(200);
    expect(b.stats.pauses).toBeGreaterThan(0);
    gated.open();
    const all = await collectUntil(
      kafka,
      [topicsOf(c).readings],
      (rs) =>
        new Set(
          rs
            .filter((r) => header(r, 'vigil-mqtt-topic') === `${prefix}/flood/x`)
            .map((r) => (json(r) as { seq: number }).seq),
        ).size >= N,
    );
    expect(all.filter((r) => header(r, 'vigil-mqtt-topic') === `${prefix}/flood/x`)).toHaveLength(N);
  });

  it('gives its share back when stopped, so the share group gets every later message', async () => {
    const group = {
      shareGroup: `${prefix.replace(/[^A-Za-z0-9_-]/g, '')}share`,
      topics: [`${prefix}/share/+`],
    };
    const producerA = new KafkaRecordProducer(kafka);
    const producerB = new KafkaRecordProducer(kafka);
    const a = await bridge(config('share-a', group), producerA);
    await bridge(config('share-b', group), producerB);
    for (let i = 0; i < 100; i++)
      await pub().publishAsync(`${prefix}/share/x`, reading('share', i), { qos: 1 });
    await sleep(500);
    await a.drain();
    await a.close(true);
    for (let i = 100; i < 300; i++)
      await pub().publishAsync(`${prefix}/share/x`, reading('share', i), { qos: 1 });
    const c = config('share-a', group);
    const all = await collectUntil(
      kafka,
      [topicsOf(c).readings],
      (rs) =>
        new Set(
          rs
            .filter((r) => header(r, 'vigil-mqtt-topic') === `${prefix}/share/x`)
            .map((r) => (json(r) as { seq: number }).seq),
        ).size >= 300,
      { timeoutMs: 30_000 },
    );
    expect(
      all.filter((r) => header(r, 'vigil-mqtt-topic') === `${prefix}/share/x`).length,
    ).toBeGreaterThanOrEqual(300);
  });

  it('leaves what it held in its session when it cannot go on, and gets it again on its return', async () => {
    const c = config('fatal', { topics: [`${prefix}/fatal/+`], shareGroup: 'fatal' });
    const refusing: RecordProducer = {
      send: () =>
        Promise.reject(
          new VigilError('not authorized to write', { code: 'KAFKA_PROTOCOL', retriable: false }),
        ),
      close: () => Promise.resolve(),
    };
    let fatal: VigilError | undefined;
    const a = await bridge(c, refusing, (err) => {
      fatal = err;
    });
    for (let i = 0; i < 20; i++)
      await pub().publishAsync(`${prefix}/fatal/x`, reading('fatal', i), { qos: 1 });
    for (let i = 0; i < 50 && fatal === undefined; i++) await sleep(100);
    expect(fatal?.message).toMatch(/not authorized/);
    await a.close(false);
    const producer = new KafkaRecordProducer(kafka);
    await bridge(c, producer); // the same client id: the session, and what it holds, is its own
    const all = await collectUntil(
      kafka,
      [topicsOf(c).readings],
      (rs) =>
        new Set(
          rs
            .filter((r) => header(r, 'vigil-mqtt-topic') === `${prefix}/fatal/x`)
            .map((r) => (json(r) as { seq: number }).seq),
        ).size >= 20,
      { timeoutMs: 30_000 },
    );
    expect(all.length).toBeGreaterThanOrEqual(20);
  });

  it('refuses to start when a topic takes smaller records than the limits allow', async () => {
    const p = uniquePrefix('mqtt-limits');
    const c = buildConfig({
      pipeline: acceptancePipeline(),
      kafka: { topicPrefix: p },
      limits: { maxRecordBytes: 2_000_000 },
    });
    await expect(ensureTopics(kafka, vigilTopics(c.kafka, c.limits), silentLogger)).rejects.toThrow(
      ConfigError,
    );
    await expect(ensureTopics(kafka, vigilTopics(c.kafka, c.limits), silentLogger)).rejects.toThrow(
      /max\.message\.bytes/,
    );
  });
});
