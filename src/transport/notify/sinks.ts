import type { SinkConfig, VigilConfig } from '../../config/load.js';
import { EmailSink } from './email.js';
import { FileSink } from './file-sink.js';
import { MqttSink } from './mqtt-sink.js';
import type { Sink } from './sink.js';
import { WebhookSink } from './webhook.js';

/** The sink a config entry describes. */
export function createSink(c: SinkConfig, config: VigilConfig): Sink {
  switch (c.kind) {
    case 'webhook':
      return new WebhookSink(c);
    case 'email':
      return new EmailSink(c);
    case 'mqtt':
      return new MqttSink(c, config.mqtt, config.nodeId);
    case 'file':
      return new FileSink(c);
  }
}
