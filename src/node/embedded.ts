import type { VigilConfig } from '../config/load.js';
import { TOPIC_NAMES } from '../config/load.js';
import { Engine } from '../engine/engine.js';
import type { Logger } from '../obs/logger.js';
import { MemoryOutbox } from '../ports/memory-outbox.js';
import { MemoryRecordLog } from '../ports/memory-record-log.js';
import { MemorySourceStore } from '../ports/memory-source-store.js';
import { MemoryStateStore } from '../ports/memory-state-store.js';
import { MemorySourceWriter } from '../ports/source-writer.js';
import type { StateStore } from '../ports/state-store.js';
import { startFetchers } from './log-sources.js';
import { startNotifier } from './notifications.js';
import type { RunningNode } from './node.js';

/** Embedded mode: the same engine over an in-memory log and state store, in this process only. */
export async function startEmbedded(
  config: VigilConfig,
  logger: Logger,
  records: MemoryRecordLog = new MemoryRecordLog(),
  store: StateStore = new MemoryStateStore(),
): Promise<RunningNode & { readonly records: MemoryRecordLog; readonly store: StateStore }> {
  for (const role of TOPIC_NAMES)
    records.createTopic(config.kafka.topics[role], config.kafka.partitions[role]);
  const engine = new Engine({
    config,
    logger,
    consumer: records.consumer(config.kafka.groupId),
    producer: records.producer(),
    store,
  });
  await engine.start();
  const fetchers = startFetchers(
    config,
    logger,
    new MemorySourceStore(),
    () => new MemorySourceWriter(records),
  );
  const notifier = startNotifier(config, logger, () => ({
    outbox: new MemoryOutbox(),
    consumer: records.consumer(`${config.kafka.groupId}.notify`),
    producer: records.producer(),
  }));
  await notifier?.start();
  return {
    engine,
    records,
    store,
    ...(fetchers === undefined ? {} : { fetchers }),
    ...(notifier === undefined ? {} : { notifier }),
    stop: async () => {
      await fetchers?.stop();
      await engine.stop();
      await notifier?.stop();
    },
  };
}
