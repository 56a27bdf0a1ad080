import type { VigilConfig } from '../config/load.js';
import type { VigilError } from '../core/errors.js';
import { httpTokens } from '../node/http.js';
import { BridgeMetrics } from '../obs/bridge-metrics.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import { createKafka } from '../transport/kafka/client.js';
import { KafkaRecordProducer } from '../transport/kafka/record-log.js';
import { ensureTopics, vigilTopics } from '../transport/kafka/topics.js';
import { probeRoutes } from '../transport/http/probes.js';
import { prometheusRoute, PROMETHEUS_ENDPOINT } from '../transport/http/prometheus.js';
import { startHttpServer, type RunningHttpServer } from '../transport/http/server.js';
import { MqttBridge } from '../transport/mqtt/bridge.js';
import { readServerTls } from '../transport/tls.js';
import { exitIfStillRunning, untilSignal, within } from './process.js';

/** How long a stopped bridge may keep running (unclosed handles) before it exits. */
const GRACE_MS = 5_000;

/**
 * `GET /metrics` of the bridge and its probes (ready while connected to MQTT), when http.listen is set
 * (same tokens as a node's).
 */
function startBridgeHttp(
  config: VigilConfig,
  metrics: BridgeMetrics,
  bridge: MqttBridge,
  logger: Logger,
): Promise<RunningHttpServer> | undefined {
  if (config.httpListen === undefined) return undefined;
  return startHttpServer({
    listen: config.httpListen,
    tokens: httpTokens(process.env),
    logger: componentLogger(logger, 'http'),
    limits: config.http,
    routes: [
      ...probeRoutes({ reasons: () => Promise.resolve(bridge.notReady()) }),
      prometheusRoute(metrics, config.httpMetricsPublic ? 'public' : PROMETHEUS_ENDPOINT),
    ],
    tls: config.httpTls === undefined ? undefined : readServerTls(config.httpTls),
  });
}

/**
 * `vigil bridge`: MQTT -> Kafka until SIGINT or SIGTERM, then drains (unsubscribes, puts what it holds
 * into Kafka and acknowledges it, ends its session) within mqtt.stopTimeout; what is not in Kafka by
 * then stays in its session for its return. Crash-only: a bridge that cannot go on (Kafka refuses for
 * good) disconnects at once, keeping its session, and the process exits non-zero.
 */
export async function runBridge(config: VigilConfig, logger: Logger): Promise<void> {
  const kafka = createKafka(config.kafka, logger);
  const { readings, dlq } = config.kafka.topics;
  await ensureTopics(
    kafka,
    vigilTopics(config.kafka, config.limits).filter((t) => t.topic === readings || t.topic === dlq),
    logger,
  );
  const producer = new KafkaRecordProducer(kafka, { compression: config.kafka.compression });
  const metrics = new BridgeMetrics(config.nodeId);
  let fatal: VigilError | undefined;
  let wake: () => void = () => undefined;
  const failed = new Promise<string>((resolve) => {
    wake = () => {
      resolve('fatal');
    };
  });
  const bridge = new MqttBridge({
    config,
    producer,
    metrics,
    logger: componentLogger(logger, 'mqtt-bridge'),
    onFatal: (err) => {
      fatal = err;
      wake();
    },
  });
  const http = await startBridgeHttp(config, metrics, bridge, logger);
  await bridge.start();
  const why = await Promise.race([untilSignal(), failed]);
  if (fatal !== undefined) logger.fatal({ err: fatal }, 'the bridge cannot go on: exiting');
  else logger.info({ why, stats: bridge.stats }, 'bridge stopping');
  const drained =
    fatal === undefined && (await within(bridge.drain(), config.mqtt.stopTimeoutMs)) !== undefined;
  if (fatal === undefined && !drained)
    logger.warn(
      { ms: config.mqtt.stopTimeoutMs },
      'not everything reached Kafka in time: it stays in the session',
    );
  await bridge.close(drained);
  await producer.close();
  await http?.stop();
  logger.info({ stats: bridge.stats }, 'bridge stopped');
  exitIfStillRunning(fatal === undefined ? 0 : 1, GRACE_MS, logger);
}
