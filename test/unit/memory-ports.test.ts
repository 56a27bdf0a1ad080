import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemorySourceWriter } from '../../src/ports/source-writer.js';
import { MemoryOutbox } from '../../src/ports/memory-outbox.js';
import { MemorySourceStore } from '../../src/ports/memory-source-store.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { logContract } from '../contract/record-log.contract.js';
import { outboxContract } from '../contract/outbox.contract.js';
import { sourceLogContract } from '../contract/source-writer.contract.js';
import { sourceStoreContract } from '../contract/source-store.contract.js';
import { stateStoreContract } from '../contract/state-store.contract.js';

stateStoreContract('memory', () => new MemoryStateStore());
sourceStoreContract('memory', () => new MemorySourceStore());
outboxContract('memory', () => new MemoryOutbox());

let n = 0;
logContract('memory', () => {
  const log = new MemoryRecordLog();
  return {
    topic: (partitions) => {
      const name = `t${n++}`;
      log.createTopic(name, partitions);
      return Promise.resolve(name);
    },
    producer: () => log.producer(),
    consumer: (group) => log.consumer(group),
  };
});

sourceLogContract(
  'memory',
  () => {
    const log = new MemoryRecordLog();
    return {
      topics: () => {
        const logs = `logs${n++}`;
        const dlq = `dlq${n++}`;
        log.createTopic(logs, 3);
        log.createTopic(dlq, 1);
        return Promise.resolve({ logs, dlq });
      },
      sourceLog: () => new MemorySourceWriter(log),
      read: (topic) =>
        Promise.resolve(
          log
            .partitions(topic)
            .flat()
            .map((r) => r.value?.toString() ?? ''),
        ),
    };
  },
  { fences: false },
);
