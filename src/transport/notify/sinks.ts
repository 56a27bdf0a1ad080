import type { SinkConfig, VigilConfig } from '../../config/load.js';
import { AlertmanagerSink } from './alertmanager.js';
import { EmailSink } from './email.js';
import { FileSink } from './file-sink.js';
import { MqttSink } from './mqtt-sink.js';
import type { Sink } from './sink.js';
import { WebhookSink } from './webhook.js';

/** The sink a config entry describes. */
export function createSink(c: SinkConfig, config: VigilConfig): Sink {
  switch (c.kind) {
    case 'alertmanager':
      return new AlertmanagerSink(c, (sensorId) => stationUrl(c.dashboard ?? dashboardOf(config), sensorId));
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

/** The dashboard of this node (http.listen), where a sensor's view is linked from. */
function dashboardOf(config: VigilConfig): string {
  if (config.httpListen === undefined) return '';
  return `${config.httpTls === undefined ? 'http' : 'https'}://${config.httpListen}/`;
}

/** A sensor's view on the dashboard (web/station.js opens `#station=<id>`). */
function stationUrl(dashboard: string, sensorId: string): string {
  return `${dashboard}#station=${encodeURIComponent(sensorId)}`;
}
