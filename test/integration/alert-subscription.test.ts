import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { alertId } from '../../src/core/alert-id.js';
import { silentLogger } from '../../src/obs/logger.js';
import { AlertSubscription, Subscriptions, type StreamEnd } from '../../src/transport/alert-subscription.js';
import { KafkaAlertLog } from '../../src/transport/kafka/alert-log.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { ensureTopics, vigilTopics } from '../../src/transport/kafka/topics.js';
import { acceptancePipeline } from '../support/acceptance.js';
import { produce, uniquePrefix } from '../support/kafka.js';

/**
 * An alert subscription on the real vigil.alerts: one whose since_id the log does not hold ends with
 * NOT_FOUND when its reader reaches the end, and its reader then stops (it used to wait for itself,
 * forever, and the node's shutdown with it).
 */
describe('alert subscription on Kafka', () => {
  it('ends an unknown since_id with NOT_FOUND and stops its reader', async () => {
    const prefix = uniquePrefix('alert-sub');
    const config = buildConfig({ pipeline: acceptancePipeline(), kafka: { topicPrefix: prefix } });
    const kafka = createKafka(config.kafka, silentLogger);
    await ensureTopics(kafka, vigilTopics(config.kafka, config.limits), silentLogger);
    const topic = config.kafka.topics.alerts;
    await produce(
      kafka,
      topic,
      [1, 2, 3].map((n) => ({
        key: 'st-1',
        value: JSON.stringify({
          id: alertId('hot', 'st-1', n, 'firing'),
          ruleId: 'hot',
          kind: 'threshold',
          sensorId: 'st-1',
          metric: 'temperature',
          state: 'firing',
          severity: 'warning',
          ts: n,
          startedAt: n,
          value: 30,
          message: `alert ${n}`,
          labels: {},
        }),
      })),
    );
    const alertLog = new KafkaAlertLog(
      kafka,
      { topic, groupPrefix: `${prefix}reader-`, sessionTimeoutMs: 10_000 },
      silentLogger,
    );
    const subscriptions = new Subscriptions();
    let ended: StreamEnd | undefined;
    let endedCleanly = false;
    const s = await AlertSubscription.open({
      alertLog,
      since: { kind: 'id', id: 'a'.repeat(32) },
      filter: { sensorIds: [], ruleIds: [], severities: [], labels: {} },
      writer: {
        write: () => true,
        onDrain: () => undefined,
        end: (e) => {
          if (e === undefined) endedCleanly = true;
          ended = e;
        },
      },
      logger: silentLogger,
      subscriptions,
      holder: 'Bearer t',
    });
    expect(s).toBeDefined();
    await expect.poll(() => ended?.code, { timeout: 30_000 }).toBe(status.NOT_FOUND);
    expect(endedCleanly).toBe(false);
    // The close the reader started itself settles: the reader has stopped.
    await s?.close();
    expect(subscriptions.active).toBe(0);
    await subscriptions.closeAll();
    await alertLog.close();
  });
});
