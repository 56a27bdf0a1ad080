import type { Ref } from '../actors/nact.js';
import type { PartitionMsg } from '../actors/partition-actor.js';
import { askPassivate } from './partition-asks.js';

/**
 * When a partition makes its idle sensors dormant (see actors/partition-actor.ts): at most every
 * quarter of `passivateAfter` (and every second), and only when no sensor changed since the last
 * checkpoint and that checkpoint is in the store, so the store holds every sensor's state: right after
 * a checkpoint lands, or on the timer of a quiet partition. `passivateAfter` 0: never.
 */
export class Passivation {
  private lastSweep = Date.now();

  constructor(
    private readonly afterMs: number,
    private readonly buckets: number,
  ) {}

  /** Starts the interval over (a partition just opened). */
  restart(): void {
    this.lastSweep = Date.now();
  }

  /** Sweeps if due; undefined when it did not, else how many became dormant and how many stay active. */
  async sweep(
    actor: Ref<PartitionMsg>,
    storeHoldsAll: boolean,
  ): Promise<{ passivated: number; active: number } | undefined> {
    if (this.afterMs <= 0 || !storeHoldsAll) return undefined;
    const now = Date.now();
    if (now - this.lastSweep < Math.max(1_000, this.afterMs / 4)) return undefined;
    this.lastSweep = now;
    return askPassivate(actor, now - this.afterMs, this.buckets);
  }
}
