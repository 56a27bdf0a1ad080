import { describe, expect, it } from 'vitest';
import { runCampaign } from '../support/chaos/campaign.js';

/**
 * A short fault campaign (the long one is `npm run chaos`): three SIGKILLs of different nodes under
 * continuous load, a zombie that wakes up, a drain, an actor crash, a SIGKILL of Redis and a restart
 * of the Kafka broker, the gRPC links to a node cut and restored; every kill and drain is followed by
 * a restart of the node. Records from outside are mixed into the load (oversized, year 3000, too wide,
 * too long an id, __proto__, 1e300, bytes, empty, and a burst of 2,000 new sensors). The load is sent
 * compressed with every codec Kafka has in turn, and pauses for 25 s in the middle: the whole network
 * quiet, every station reported silent through the clock records. Nothing may be lost or doubled
 * against the oracle (which reads the partitions back, clock records included), and the subscriber
 * that followed the alerts across nodes must hold each alert exactly once.
 */
describe('fault campaign', () => {
  it(
    'kills, a zombie, a drain, a crash, Redis and broker restarts, a link cut under load: nothing lost or doubled',
    { timeout: 600_000 },
    async () => {
      const result = await runCampaign({
        nodes: 3,
        kills: 3,
        zombies: 1,
        drains: 1,
        crashes: 1,
        redisRestarts: 1,
        brokerRestarts: 1,
        linkCuts: 1,
        rate: 400,
        stations: 300,
        seed: 7,
        sessionTimeoutMs: 3_000,
        // Records from outside mixed in: every hostile class three times, and a burst of new sensors.
        hostile: { perClass: 3, burst: 2_000 },
        codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
        quietMs: 25_000,
        log: (line) => {
          process.stdout.write(`${line}\n`);
        },
      });
      process.stdout.write(`${JSON.stringify({ ...result, problems: result.problems.slice(0, 5) })}\n`);
      const killed = result.faults.filter((f) => f.kind === 'kill').map((f) => f.node);
      expect(new Set(killed).size).toBe(3); // three different nodes
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicated).toBe(0);
      expect(result.expected.alerts).toBeGreaterThan(0);
      // The quiet period: every station (and the burst's sensors) reported silent, then resolved.
      expect(result.silenced).toBeGreaterThanOrEqual(300);
      // Hostile input: each record a dead letter with its reason (the oracle counts them), no node down.
      expect(result.hostile).toBe(24);
      expect(result.dlqWithoutReason).toBe(0);
      expect(result.deadAtEnd).toBe(0);
      expect(result.maxRssMb).toBeLessThan(1_024);
      // The subscriber: every alert of vigil.alerts, none twice, across reconnects.
      expect(result.subscriber.unique).toBe(result.subscriber.received);
      expect(result.subscriber.missing).toBe(0);
      expect(result.subscriber.unique).toBe(result.alertsInLog);
      expect(result.subscriber.reconnects).toBeGreaterThan(0);
      // Cut off, a node cannot be reached over Remoting; restored, it is again (the link redials).
      const cut = result.faults.find((f) => f.kind === 'link');
      expect(cut?.failedWhileCut).toBe(true);
      expect(cut?.recoveredMs).toBeDefined();
      // The zombie woke up to find its partitions taken: it wrote nothing on its stale epoch. Either its
      // checkpoint was refused (fencing), or the assignment came first and it saw the newer epoch.
      const zombie = result.faults.find((f) => f.kind === 'zombie');
      expect((zombie?.refused ?? 0) + (zombie?.retaken ?? 0)).toBeGreaterThan(0);
      for (const f of result.faults.filter((x) => ['kill', 'zombie', 'drain'].includes(x.kind)))
        expect(f.reassignedMs).toBeDefined();
      for (const f of result.faults.filter((x) => x.kind !== 'crash')) expect(f.recoveredMs).toBeDefined();
    },
  );
});
