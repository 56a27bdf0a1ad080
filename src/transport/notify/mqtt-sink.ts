import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { SinkConfig, VigilConfig } from '../../config/load.js';
import { alertTopic } from '../../core/notify.js';
import type { Alert } from '../../core/outputs.js';
import { mqttClientOptions } from '../mqtt/options.js';
import { DeliveryError, type Sink } from './sink.js';

type MqttSinkConfig = Extract<SinkConfig, { kind: 'mqtt' }>;

/**
 * Publishes each alert as JSON on a topic per station and rule (a template, by default
 * `vigil/alerts/{sensorId}/{ruleId}`), retained by default: a city's warning display that subscribes
 * to `vigil/alerts/#` sees every station's current state at once, and the resolved alert replaces the
 * firing one. QoS 1 by default: the delivery counts once the broker has acknowledged it.
 */
export class MqttSink implements Sink {
  readonly kind = 'mqtt';
  readonly id: string;
  private readonly client: MqttClient;

  constructor(
    private readonly c: MqttSinkConfig,
    mqtt: VigilConfig['mqtt'],
    nodeId: string,
  ) {
    this.id = c.id;
    const options: IClientOptions = {
      ...mqttClientOptions(mqtt),
      clientId: `vigil-sink-${c.id}-${nodeId}`,
      reconnectPeriod: 1_000,
      // Publishes wait while disconnected only until the delivery times out; the outbox retries.
      queueQoSZero: false,
    };
    this.client = connect(mqtt.url, options);
    this.client.on('error', () => undefined);
  }

  async deliver(alert: Alert): Promise<void> {
    const topic = alertTopic(this.c.topic, alert);
    if (!this.client.connected)
      throw new DeliveryError(`MQTT broker not connected (publishing ${topic})`, { retriable: true });
    try {
      await this.client.publishAsync(topic, JSON.stringify(alert), {
        qos: this.c.qos,
        retain: this.c.retain,
      });
    } catch (err) {
      throw new DeliveryError(`MQTT publish to ${topic}: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
