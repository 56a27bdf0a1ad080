import { Counter, Gauge, Registry } from 'prom-client';
import { VIGIL_VERSION } from './build-info.js';
import { registerProcessMetrics } from './metrics.js';

/**
 * The Prometheus metrics of an MQTT bridge (`vigil bridge`), served as `GET /metrics` when
 * `http.listen` is set, with the standard process and Node.js metrics. Every series carries `bridge`
 * (the node id of its configuration).
 */
export class BridgeMetrics {
  readonly registry = new Registry();
  readonly received = new Counter({
    name: 'vigil_bridge_received_total',
    help: 'MQTT messages received',
    registers: [this.registry],
  });
  readonly produced = new Counter({
    name: 'vigil_bridge_produced_total',
    help: 'Readings produced to vigil.readings',
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'vigil_dead_letters_total',
    help: 'Messages sent to vigil.dlq, per source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly failedSends = new Counter({
    name: 'vigil_bridge_failed_sends_total',
    help: 'Produce requests that failed and were retried',
    registers: [this.registry],
  });
  readonly pauses = new Counter({
    name: 'vigil_bridge_pauses_total',
    help: 'Times the bridge stopped reading from the MQTT broker because mqtt.maxPending messages waited for Kafka',
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: 'vigil_bridge_pending_messages',
    help: 'Messages received and not yet in Kafka (their acknowledgements wait)',
    registers: [this.registry],
  });

  constructor(bridge: string) {
    this.registry.setDefaultLabels({ bridge });
    registerProcessMetrics(this.registry, VIGIL_VERSION);
  }

  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
