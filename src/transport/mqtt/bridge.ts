import { connect, type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { VigilConfig } from '../../config/load.js';
import { contentId, deadLetterMessage } from '../../core/dead-letter.js';
import type { RecordSource } from '../../core/outputs.js';
import { toVigilError, VigilError } from '../../core/errors.js';
import { readTopic } from '../../core/mqtt-topics.js';
import { decodePayload, encodeReadings } from '../../core/payloads/index.js';
import type { Reading } from '../../core/reading.js';
import { reasonOf } from '../../core/router.js';
import { backoff } from '../../engine/worker-deps.js';
import { sendOrDeadLetter } from '../../engine/send-or-dead-letter.js';
import type { BridgeMetrics } from '../../obs/bridge-metrics.js';
import type { Logger } from '../../obs/logger.js';
import type { OutgoingRecord, RecordProducer, TopicMessages } from '../../ports/record-log.js';
import { mqttClientOptions } from './options.js';

export interface BridgeStats {
  received: number;
  produced: number;
  deadLetters: number;
  batches: number;
  failedSends: number;
  pauses: number;
}

/** One MQTT message on its way: its readings as records (one per sensor), and its dead letter if any. */
interface Held {
  readonly messageId: number | undefined;
  readonly readings: readonly OutgoingRecord[];
  readonly dead: OutgoingRecord | undefined;
}

export interface MqttBridgeOptions {
  readonly config: VigilConfig;
  readonly producer: RecordProducer;
  readonly logger: Logger;
  readonly metrics?: BridgeMetrics;
  /** The bridge cannot go on (Kafka refuses for good, not for a record): the process should exit. */
  readonly onFatal: (err: VigilError) => void;
}

/** Readings of one sensor as Vigil's JSON lines, in records of at most `most` bytes (one reading at least). */
function chunked(readings: readonly Reading[], most: number): string[] {
  const out: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  for (const r of readings) {
    const line = encodeReadings([r]);
    const size = Buffer.byteLength(line) + 1;
    if (lines.length > 0 && bytes + size > most) {
      out.push(lines.join('\n'));
      lines = [];
      bytes = 0;
    }
    lines.push(line);
    bytes += size;
  }
  if (lines.length > 0) out.push(lines.join('\n'));
  return out;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;
type HandleMessage = (packet: Packet, cb: (err?: Error) => void) => void;

/**
 * Where an MQTT dead letter comes from: its topic, and for an offset the hash of its payload (MQTT has
 * none, and packet ids are reused: every QoS 0 message has none, QoS 1 ids wrap). A message the broker
 * delivers again keeps its id; two different messages never share one.
 */
export function mqttDeadLetterSource(topic: string, payload: Buffer): RecordSource {
  return { topic: `mqtt:${topic}`, partition: 0, offset: contentId(payload) };
}

/**
 * MQTT -> Kafka: subscribes (QoS 1, a persistent session, an MQTT 5 shared subscription so that
 * several bridges split the load) and produces each message to vigil.readings keyed by sensor id, or
 * to vigil.dlq with its reason when it is not a valid reading (config `limits` bound it: an oversized
 * payload is a dead letter, cut).
 *
 * A message is acknowledged to the MQTT broker only once Kafka holds it (acks from all replicas). A
 * bridge killed at any moment therefore loses nothing: what it had not acknowledged, the broker sends
 * again when the bridge's session reconnects. MQTT.js handles incoming packets one at a time and
 * sends each PUBACK as soon as its message is handled, which would either acknowledge too early or
 * produce one message per Kafka round trip. So the bridge holds back the PUBACKs MQTT.js sends (the
 * client's packet writer is wrapped) and releases them after the batch holding their messages is in
 * Kafka: messages keep flowing and go to Kafka in batches, and no PUBACK goes out early.
 * (`test/integration/mqtt-bridge.test.ts` kills a bridge mid-stream and counts every reading.)
 *
 * Flow: `mqtt.maxPending` messages received and not in Kafka at most. Past it, the bridge does not
 * finish handling the last message (MQTT.js' handleMessage callback waits), so MQTT.js stops reading
 * its socket and the broker holds the rest: memory stays bounded under any flood, QoS 0 included.
 *
 * A message's states:
 *
 *   received (counted in `pending`; its PUBACK, once MQTT.js sends it, is held in `acks`)
 *     -> in a batch -> produced to vigil.readings or vigil.dlq -> PUBACK released, `pending` down
 *     -> or given up (fatal, or closed while retrying): never acknowledged, so the broker keeps it in
 *        the session for whoever comes next
 *
 * The bridge's: connecting -> subscribed <-> paused (pending >= maxPending; resumed when a batch is
 * in Kafka) -> draining (unsubscribed, flushing until nothing is pending) -> closed (session ended if
 * drained, kept otherwise).
 *
 * Failures: a failure Kafka may get over (retriable: the broker away, a leader moving) is retried with
 * backoff, nothing acknowledged meanwhile; a record the broker refuses for what it is goes to vigil.dlq
 * (sendOrDeadLetter), never retried; anything else is fatal (`onFatal`): the process exits and what it
 * held comes back from its session.
 */
export class MqttBridge {
  readonly stats: BridgeStats = {
    received: 0,
    produced: 0,
    deadLetters: 0,
    batches: 0,
    failedSends: 0,
    pauses: 0,
  };
  private client: MqttClient | undefined;
  private batch: Held[] = [];
  /** Received and not yet in Kafka (their PUBACKs wait), by message id for QoS 1. */
  private readonly unproduced = new Set<number>();
  private pending = 0;
  /** PUBACKs held back, by message id, until their message is in Kafka. */
  private readonly acks = new Map<number, () => void>();
  /** MQTT.js' callback for the last message, held while `maxPending` messages wait. */
  private resume: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private flushing: Promise<void> = Promise.resolve();
  /** Set by close(): a flush still retrying gives up (nothing of its batch is acknowledged). */
  private closed = false;
  private failed = false;

  constructor(private readonly o: MqttBridgeOptions) {}

  /** Why the bridge cannot take messages now (its readiness probe); empty when it can. */
  notReady(): string[] {
    if (this.closed) return ['the bridge is stopping'];
    if (this.client?.connected !== true) return [`not connected to MQTT ${this.o.config.mqtt.url}`];
    return [];
  }

  private options(): IClientOptions {
    const { config } = this.o;
    return {
      clientId: `vigil-bridge-${config.nodeId}`,
      protocolVersion: 5,
      // A persistent session: what this bridge has not acknowledged waits for it across reconnects.
      clean: false,
      properties: { sessionExpiryInterval: 24 * 3600 },
      reconnectPeriod: 1_000,
      ...mqttClientOptions(config.mqtt),
    };
  }

  async start(): Promise<void> {
    const m = this.o.config.mqtt;
    const client = connect(m.url, this.options());
    this.client = client;
    this.holdAcks(client);
    // The 'message' event carries the topic (resolved from an MQTT 5 alias); handleMessage follows it
    // for the same packet, and its callback is MQTT.js' flow control.
    client.on('message', (topic, payload, packet) => {
      this.accept(topic, payload, packet);
    });
    const handle: HandleMessage = (_packet, cb) => {
      if (this.pending < m.maxPending) {
        cb();
        return;
      }
      this.stats.pauses += 1;
      this.o.metrics?.pauses.inc();
      this.resume = cb;
    };
    (client as unknown as { handleMessage: HandleMessage }).handleMessage = handle;
    client.on('error', (err) => {
      this.o.logger.warn({ err }, 'MQTT client error');
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
    await client.subscribeAsync(this.topics(), { qos: 1 });
    this.o.logger.info({ url: m.url, topics: this.topics() }, 'MQTT bridge subscribed');
  }

  private topics(): string[] {
    const m = this.o.config.mqtt;
    return m.topics.map((t) => `$share/${m.shareGroup}/${t.filter}`);
  }

  /** Wraps MQTT.js' packet writer (not public API; the kill test fails if this stops holding PUBACKs). */
  private holdAcks(client: MqttClient): void {
    const internals = client as unknown as { _sendPacket: SendPacket };
    const send = internals._sendPacket.bind(client);
    internals._sendPacket = (packet, cb, ...rest) => {
      if (
        packet.cmd === 'puback' &&
        packet.messageId !== undefined &&
        this.unproduced.has(packet.messageId)
      ) {
        this.acks.set(packet.messageId, () => {
          send(packet, undefined, ...rest);
        });
        cb?.(); // MQTT.js goes on with the next message now; the PUBACK itself waits
        return;
      }
      send(packet, cb, ...rest);
    };
  }

  private accept(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const { config, metrics } = this.o;
    this.stats.received += 1;
    metrics?.received.inc();
    this.pending += 1;
    metrics?.pending.set(this.pending);
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    if (messageId !== undefined) this.unproduced.add(messageId);
    this.batch.push({ messageId, ...this.translate(topic, payload) });
    if (this.batch.length >= config.mqtt.batchMax) this.flushSoon(0);
    else this.flushSoon(config.mqtt.batchDelayMs);
  }

  /**
   * A message as records: its readings (the same decoders as vigil.readings, core/payloads), one record
   * per sensor keyed by its id, in Vigil's JSON with the sensor and time resolved (from the topic, and
   * the time of receipt, where the payload gives none); what could not be read, a dead letter of the
   * whole payload with the reasons.
   */
  private translate(topic: string, payload: Buffer): Pick<Held, 'readings' | 'dead'> {
    const { config } = this.o;
    const { spec, sensorId } = readTopic(config.mqtt.topics, topic);
    const settings = config.readings.payload;
    const decoded = decodePayload(
      payload,
      spec === undefined ? settings : { ...settings, format: spec.format },
      {
        sensorId,
        receivedAt: Date.now(),
      },
    );
    const bySensor = new Map<string, Reading[]>();
    for (const r of decoded.readings) {
      const list = bySensor.get(r.sensorId);
      if (list === undefined) bySensor.set(r.sensorId, [r]);
      else list.push(r);
    }
    // Records of a quarter of limits.maxRecordBytes at most: Vigil's JSON can be larger than the
    // payload it came from (line protocol is terse), and no record may grow past what the engine takes.
    const most = Math.max(1_024, Math.floor(config.limits.reading.maxRecordBytes / 4));
    const readings = [...bySensor].flatMap(([id, rs]) =>
      chunked(rs, most).map((value) => ({ key: id, value, headers: { 'vigil-mqtt-topic': topic } })),
    );
    const dead =
      decoded.errors.length === 0
        ? undefined
        : deadLetterMessage(
            {
              source: mqttDeadLetterSource(topic, payload),
              key: null,
              payload,
              reason: reasonOf(decoded.errors),
            },
            config.limits.deadLetterPayloadBytes,
          );
    return { readings, dead };
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

  private requests(batch: readonly Held[]): TopicMessages[] {
    const t = this.o.config.kafka.topics;
    const readings = batch.flatMap((h) => h.readings);
    const dead = batch.flatMap((h) => (h.dead === undefined ? [] : [h.dead]));
    return [
      ...(readings.length > 0 ? [{ topic: t.readings, messages: readings }] : []),
      ...(dead.length > 0 ? [{ topic: t.dlq, messages: dead }] : []),
    ];
  }

  /** Produces the current batch (retrying what Kafka may get over), then releases its PUBACKs. */
  private async flush(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0 || this.failed) return;
    this.batch = [];
    const refused = await this.produce(this.requests(batch));
    if (refused !== undefined) this.done(batch, refused);
  }

  /**
   * Sends until Kafka takes it: the dead letters of records the broker refused, or undefined when it
   * gave up (fatal, or closed meanwhile), in which case nothing of it is acknowledged and the MQTT
   * broker sends it again to whoever comes next.
   */
  private async produce(requests: readonly TopicMessages[]): Promise<number | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await sendOrDeadLetter(this.o.producer, requests, this.o.config.kafka.topics.dlq);
      } catch (err) {
        const e = toVigilError(err);
        if (!e.retriable) {
          this.failed = true;
          this.o.onFatal(e);
          return undefined;
        }
        this.stats.failedSends += 1;
        this.o.metrics?.failedSends.inc();
        this.o.logger.warn({ err: e, attempt }, 'producing MQTT messages to Kafka failed; retrying');
        await backoff(Math.min(attempt, 7));
        if (this.closed) return undefined;
      }
    }
  }

  private done(batch: readonly Held[], refused: number): void {
    const { metrics } = this.o;
    const records = batch.reduce((n, h) => n + h.readings.length + (h.dead === undefined ? 0 : 1), 0);
    const dead = batch.filter((h) => h.dead !== undefined).length + refused;
    this.stats.batches += 1;
    this.stats.produced += records - dead;
    this.stats.deadLetters += dead;
    metrics?.produced.inc(records - dead);
    if (dead > 0) metrics?.deadLetters.inc({ source: 'mqtt' }, dead);
    for (const h of batch) {
      if (h.messageId === undefined) continue;
      this.unproduced.delete(h.messageId);
      const release = this.acks.get(h.messageId);
      this.acks.delete(h.messageId);
      release?.();
    }
    this.pending -= batch.length;
    metrics?.pending.set(this.pending);
    const resume = this.resume;
    if (resume !== undefined && this.pending < this.o.config.mqtt.maxPending) {
      this.resume = undefined;
      resume();
    }
  }

  /**
   * Stops taking messages (unsubscribes, so the share group's other bridges get them from now on) and
   * puts what it holds into Kafka, acknowledging it. Resolves once nothing is held; the caller bounds
   * it (mqtt.stopTimeout) and then calls close().
   */
  async drain(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    const state = { unsubscribed: false };
    client.unsubscribeAsync(this.topics()).then(
      () => {
        state.unsubscribed = true;
      },
      (err: unknown) => {
        // Disconnected: the broker takes nothing more from this session's subscription until it is back.
        this.o.logger.warn({ err }, 'unsubscribing failed');
        state.unsubscribed = true;
      },
    );
    // Messages may arrive until the broker has the UNSUBSCRIBE: flush until none is held.
    for (;;) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
      await this.flushing;
      if (this.failed || (this.pending === 0 && state.unsubscribed)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Disconnects. `drained`: nothing is held, so the session is ended with it (session expiry 0) and no
   * message waits in it for a bridge that is gone. Otherwise the session stays, holding what was not
   * acknowledged, for this bridge to take again when it comes back.
   */
  async close(drained: boolean): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    if (client === undefined) return;
    if (drained && !this.failed)
      await client.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    else await client.endAsync(true);
  }
}
