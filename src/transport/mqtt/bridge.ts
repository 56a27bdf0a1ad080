import { connect, type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { VigilConfig } from '../../config/load.js';
import { decodeReading } from '../../core/reading.js';
import { deadLetterMessage } from '../../core/dead-letter.js';
import { VigilError } from '../../core/errors.js';
import type { OutgoingRecord, RecordProducer } from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import { mqttClientOptions } from './options.js';

export interface BridgeStats {
  received: number;
  produced: number;
  deadLetters: number;
  batches: number;
  failedSends: number;
}

interface Held {
  readonly messageId: number | undefined;
  readonly record: OutgoingRecord;
  readonly dead: boolean;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

/**
 * MQTT -> Kafka: subscribes (QoS 1, a persistent session, an MQTT 5 shared subscription so that
 * several bridges split the load) and produces each message to vigil.readings keyed by sensor id, or
 * to vigil.dlq with its reason when it is not a valid reading.
 *
 * A message is acknowledged to the MQTT broker only once Kafka holds it (acks from all replicas). A
 * bridge killed at any moment therefore loses nothing: what it had not acknowledged, the broker sends
 * again when the bridge's session reconnects. MQTT.js handles incoming packets one at a time and
 * sends each PUBACK as soon as its message is handled, which would either acknowledge too early or
 * produce one message per Kafka round trip. So the bridge holds back the PUBACKs MQTT.js sends (the
 * client's packet writer is wrapped) and releases them after the batch holding their messages is in
 * Kafka: messages keep flowing and go to Kafka in batches, and no PUBACK goes out early.
 * (`test/integration/mqtt-bridge.test.ts` kills a bridge mid-stream and counts every reading.)
 */
export class MqttBridge {
  readonly stats: BridgeStats = { received: 0, produced: 0, deadLetters: 0, batches: 0, failedSends: 0 };
  private client: MqttClient | undefined;
  private batch: Held[] = [];
  /** PUBACKs held back, by message id, until their message is in Kafka. */
  private readonly acks = new Map<number, () => void>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly config: VigilConfig,
    private readonly producer: RecordProducer,
    private readonly logger: Logger,
  ) {}

  private options(): IClientOptions {
    const m = this.config.mqtt;
    return {
      clientId: `vigil-bridge-${this.config.nodeId}`,
      protocolVersion: 5,
      // A persistent session: what this bridge has not acknowledged waits for it across reconnects.
      clean: false,
      properties: { sessionExpiryInterval: 24 * 3600 },
      reconnectPeriod: 1_000,
      ...mqttClientOptions(m),
    };
  }

  async start(): Promise<void> {
    const m = this.config.mqtt;
    const client = connect(m.url, this.options());
    this.client = client;
    // MQTT.js' packet writer (not public API; the kill test fails if this stops holding PUBACKs).
    const internals = client as unknown as { _sendPacket: SendPacket };
    const send = internals._sendPacket.bind(client);
    internals._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined && this.held(packet.messageId)) {
        this.acks.set(packet.messageId, () => {
          send(packet, undefined, ...rest);
        });
        cb?.(); // MQTT.js goes on with the next message now; the PUBACK itself waits
        return;
      }
      send(packet, cb, ...rest);
    };
    client.on('message', (topic, payload, packet) => {
      this.accept(topic, payload, packet);
    });
    client.on('error', (err) => {
      this.logger.warn({ err }, 'MQTT client error');
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        resolve();
      });
      client.once('error', (err) => {
        reject(
          new VigilError(`cannot connect to MQTT ${m.url}: ${err.message}`, {
            code: 'MQTT_CONNECT',
            retriable: true,
            cause: err,
          }),
        );
      });
    });
    const topics = m.topics.map((t) => `$share/${m.shareGroup}/${t}`);
    await client.subscribeAsync(topics, { qos: 1 });
    this.logger.info({ url: m.url, topics }, 'MQTT bridge subscribed');
  }

  /** Received and not yet in Kafka: its PUBACK must wait. */
  private held(messageId: number): boolean {
    return this.unproduced.has(messageId);
  }

  private readonly unproduced = new Set<number>();

  private accept(topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.stats.received += 1;
    const decoded = decodeReading(payload);
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    if (messageId !== undefined) this.unproduced.add(messageId);
    if (decoded.ok) {
      this.batch.push({
        messageId,
        dead: false,
        record: { key: decoded.value.sensorId, value: payload, headers: { 'vigil-mqtt-topic': topic } },
      });
    } else {
      this.batch.push({
        messageId,
        dead: true,
        record: deadLetterMessage({
          source: { topic: `mqtt:${topic}`, partition: 0, offset: String(messageId ?? 0) },
          key: null,
          payload,
          reason: decoded.reason,
        }),
      });
    }
    if (this.batch.length >= this.config.mqtt.batchMax) this.flushSoon(0);
    else this.flushSoon(this.config.mqtt.batchDelayMs);
  }

  /**
   * Schedules a flush in `delayMs` unless one is due sooner. A flush waits for the one before it, so
   * messages arriving while a batch is on its way to Kafka gather into the next batch (Kafka's own
   * linger, without a timer). The broker sends only so many unacknowledged messages at once
   * (Mosquitto's max_inflight_messages), and every PUBACK waits for Kafka, so waiting longer than
   * needed here only slows the bridge down: the default delay is 0.
   */
  private flushSoon(delayMs: number): void {
    if (this.timer !== undefined && this.timerDue <= Date.now() + delayMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, delayMs);
  }

  /** Produces the current batch (retrying until Kafka takes it), then releases its PUBACKs. */
  private async flush(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const readings = batch.filter((h) => !h.dead).map((h) => h.record);
    const dead = batch.filter((h) => h.dead).map((h) => h.record);
    const t = this.config.kafka.topics;
    for (let attempt = 0; !this.stopped || attempt === 0; attempt++) {
      try {
        await this.producer.send([
          ...(readings.length > 0 ? [{ topic: t.readings, messages: readings }] : []),
          ...(dead.length > 0 ? [{ topic: t.dlq, messages: dead }] : []),
        ]);
        break;
      } catch (err) {
        // Nothing is acknowledged: keep trying (or, stopped, leave it to the broker's redelivery).
        this.stats.failedSends += 1;
        this.logger.warn({ err, attempt }, 'producing MQTT messages to Kafka failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)));
        if (this.stopped) return;
      }
    }
    this.stats.batches += 1;
    this.stats.produced += readings.length;
    this.stats.deadLetters += dead.length;
    for (const h of batch) {
      if (h.messageId === undefined) continue;
      this.unproduced.delete(h.messageId);
      const release = this.acks.get(h.messageId);
      this.acks.delete(h.messageId);
      release?.();
    }
  }

  /** Produces what it holds, acknowledges it, and disconnects. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.flush());
    await this.flushing;
    this.stopped = true;
    await this.client?.endAsync();
  }
}
