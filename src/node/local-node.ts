import type { Engine } from '../engine/engine.js';
import type { LogFetchers } from '../actors/log-fetchers.js';
import type { NodeRef } from '../ports/node-ref.js';

/** This node's own ref: its engine's sensors, its actors and partitions, and its drain. */
export function localNode(
  nodeId: string,
  engine: Engine,
  fetchers: LogFetchers | undefined,
  leave: () => Promise<void>,
  onDrained: (() => void) | undefined,
): NodeRef {
  return {
    nodeId,
    inspect: (id) => engine.inspectSensor(id),
    control: (id, command) => engine.controlSensor(id, command),
    crash: (id) => engine.crashSensor(id),
    listActors: () => engine.listActors(),
    partitions: () => Promise.resolve(engine.partitions),
    summary: async () => ({
      partitions: engine.partitions,
      actors: engine.actorCount,
      logSources: (await fetchers?.held()) ?? [],
      stats: { ...engine.stats },
    }),
    drain: async () => {
      const partitions = engine.partitions.length;
      await leave();
      // The reply goes out before the caller tears the rest of the node down.
      setImmediate(() => onDrained?.());
      return `drained: final checkpoints of ${partitions} partition(s) written, left the group and the cluster`;
    },
  };
}
