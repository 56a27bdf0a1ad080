/**
 * Recovery after SIGKILL, from the fault campaign harness (test/support/chaos/): 3 nodes under a
 * steady load, `kills` SIGKILLs one node at a time; for each, the time until every partition is owned
 * by a live node again, and until the group's lag is back to its level before the kill.
 */
import { runCampaign } from '../test/support/chaos/campaign.js';
import { percentile, type Say } from './lib.js';

export interface RecoveryResult {
  readonly kills: number;
  readonly ownedP50: number;
  readonly ownedP99: number;
  readonly lagBackP50: number;
  readonly lagBackP99: number;
  readonly lost: number;
  readonly duplicated: number;
}

export async function recovery(kills: number, say: Say): Promise<RecoveryResult> {
  const result = await runCampaign({
    nodes: 3,
    kills,
    zombies: 0,
    drains: 0,
    crashes: 0,
    redisRestarts: 0,
    brokerRestarts: 0,
    linkCuts: 0,
    rate: 400,
    stations: 300,
    seed: 1,
    durationMs: 0,
    sessionTimeoutMs: 3_000,
    log: (line) => {
      say(`    ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`);
    },
  });
  const killed = result.faults.filter((f) => f.kind === 'kill');
  const sorted = (xs: (number | undefined)[]) =>
    xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const owned = sorted(killed.map((f) => f.reassignedMs));
  const back = sorted(killed.map((f) => f.recoveredMs));
  return {
    kills: killed.length,
    ownedP50: percentile(owned, 0.5) / 1000,
    ownedP99: percentile(owned, 0.99) / 1000,
    lagBackP50: percentile(back, 0.5) / 1000,
    lagBackP99: percentile(back, 0.99) / 1000,
    lost: result.lost,
    duplicated: result.duplicated,
  };
}
