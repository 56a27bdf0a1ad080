import { describe, expect, it } from 'vitest';
import { Membership } from '../../src/transport/redis/membership.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import { silentLogger } from '../../src/obs/logger.js';
import { uniquePrefix } from '../support/kafka.js';

describe('membership in Redis', () => {
  it(
    'lists live nodes with their partitions, finds a key owner, and forgets a node whose lease ran out',
    { timeout: 30_000 },
    async () => {
      const keyPrefix = uniquePrefix('members');
      const node = (id: string, leaseMs = 1_500) =>
        new Membership(
          {
            url: 'redis://127.0.0.1:6379',
            keyPrefix,
            nodeId: id,
            address: `127.0.0.1:${id.slice(-1)}000`,
            leaseMs,
          },
          silentLogger,
        );
      const a = node('node-1');
      const b = node('node-2');
      await a.start();
      await b.start();
      await a.setPartitions(['t:0', 't:1', 't:2']);
      await b.setPartitions(['t:5', 't:3', 't:4']);
      expect((await a.members()).map((m) => [m.id, m.address, m.partitions])).toEqual([
        ['node-1', '127.0.0.1:1000', ['t:0', 't:1', 't:2']],
        ['node-2', '127.0.0.1:2000', ['t:3', 't:4', 't:5']],
      ]);
      const sensor = ['st-1', 'st-2', 'st-3', 'st-4'].find((s) => partitionForKey(s, 6) >= 3) ?? 'st-1';
      expect((await a.ownerOf(sensor, 't', 6))?.id).toBe(
        partitionForKey(sensor, 6) >= 3 ? 'node-2' : 'node-1',
      );

      // node-2 stops refreshing without leaving (a crash): gone once its lease expires
      const crashed = b as unknown as { timer: NodeJS.Timeout | undefined };
      clearInterval(crashed.timer);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect((await a.members()).map((m) => m.id)).toEqual(['node-1']);
      await a.stop();
      expect(await b.members()).toEqual([]);
      await b.stop();
    },
  );
});
