import type { VigilConfig } from '../config/load.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { Outbox } from '../ports/outbox.js';
import type { RecordConsumer, RecordProducer } from '../ports/record-log.js';
import { Notifier } from '../transport/notify/notifier.js';
import { createSink } from '../transport/notify/sinks.js';

/** The notifier of the configured sinks (none configured: none). */
export function startNotifier(
  config: VigilConfig,
  logger: Logger,
  ports: () => { outbox: Outbox; consumer: RecordConsumer; producer: RecordProducer },
  metrics?: NodeMetrics,
): Notifier | undefined {
  if (config.notify.sinks.length === 0) return undefined;
  return new Notifier({
    sinks: config.notify.sinks.map((c) => ({
      sink: createSink(c, config),
      filter: c.filter,
      ...(c.group === undefined ? {} : { group: c.group }),
    })),
    ...ports(),
    topics: { alerts: config.kafka.topics.alerts, dlq: config.kafka.topics.dlq },
    retry: config.notify.retry,
    logger: componentLogger(logger, 'notify'),
    ...(metrics === undefined ? {} : { metrics }),
  });
}
