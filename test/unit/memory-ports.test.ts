import { MemoryLog } from '../../src/log/memory-log.js';
import { MemorySourceLog } from '../../src/log/source-log.js';
import { MemoryOutbox } from '../../src/state/memory-outbox.js';
import { MemorySourceStore } from '../../src/state/memory-source-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { logContract } from '../contract/log.contract.js';
import { outboxContract } from '../contract/outbox.contract.js';
import { sourceLogContract } from '../contract/source-log.contract.js';
import { sourceStoreContract } from '../contract/source-store.contract.js';
import { stateStoreContract } from '../contract/state-store.contract.js';

stateStoreContract('memory', () => new MemoryStateStore());
sourceStoreContract('memory', () => new MemorySourceStore());
outboxContract('memory', () => new MemoryOutbox());

let n = 0;
logContract('memory', () => {
  const log = new MemoryLog();
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
    const log = new MemoryLog();
    return {
      topics: () => {
        const logs = `logs${n++}`;
        const dlq = `dlq${n++}`;
        log.createTopic(logs, 3);
        log.createTopic(dlq, 1);
        return Promise.resolve({ logs, dlq });
      },
      sourceLog: () => new MemorySourceLog(log),
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
