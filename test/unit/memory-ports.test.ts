import { MemoryLog } from '../../src/log/memory-log.js';
import { MemorySourceStore } from '../../src/state/memory-source-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { logContract } from '../contract/log.contract.js';
import { sourceStoreContract } from '../contract/source-store.contract.js';
import { stateStoreContract } from '../contract/state-store.contract.js';

stateStoreContract('memory', () => new MemoryStateStore());
sourceStoreContract('memory', () => new MemorySourceStore());

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
