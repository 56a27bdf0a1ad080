import { describe, expect, it } from 'vitest';
import { runCampaign } from '../support/chaos/campaign.js';

/**
 * Hostile input on a single node, killed once mid-stream: every class of record that stopped
 * partitions before (issue 13), interleaved with good readings, and a burst of new sensors. The node
 * never stops by itself; after its restart it goes past every one of them again; the outputs equal
 * the oracle's, each hostile record a dead letter once, with its reason. (With 3 nodes and more
 * faults: chaos.test.ts.)
 */
describe('hostile input campaign', () => {
  it(
    'one node, one SIGKILL: every hostile record a dead letter, results exact, the node never stops',
    { timeout: 400_000 },
    async () => {
      const result = await runCampaign({
        nodes: 1,
        kills: 1,
        zombies: 0,
        drains: 0,
        crashes: 0,
        redisRestarts: 0,
        brokerRestarts: 0,
        linkCuts: 0,
        rate: 400,
        stations: 300,
        seed: 13,
        sessionTimeoutMs: 3_000,
        hostile: { perClass: 4, burst: 3_000 },
        log: (line) => {
          process.stdout.write(`${line}\n`);
        },
      });
      process.stdout.write(`${JSON.stringify({ ...result, problems: result.problems.slice(0, 5) })}\n`);
      expect(result.hostile).toBe(32);
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicated).toBe(0);
      expect(result.expected.dlq).toBeGreaterThanOrEqual(32);
      expect(result.dlqWithoutReason).toBe(0);
      expect(result.deadAtEnd).toBe(0);
      expect(result.maxRssMb).toBeLessThan(1_024);
      expect(result.faults[0]?.recoveredMs).toBeDefined();
    },
  );
});
