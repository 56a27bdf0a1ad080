import {
  applyAlert,
  emptyGroup,
  groupKey,
  parseGroup,
  type AlertGroup,
  type GroupSpec,
} from '../../core/alert-groups.js';
import type { Alert } from '../../core/outputs.js';
import type { Outbox } from '../../ports/outbox.js';

/** An outbox item of a grouped sink: a change of a group, sent as the group is when it comes due. */
export interface GroupItem {
  readonly group: string;
  readonly version: number;
}

/**
 * The hand-out's side of one grouped sink (core/alert-groups.ts): its groups, kept in the outbox with
 * the vigil.alerts offset they cover. Per batch: apply the alerts the stored state does not cover yet,
 * enqueue one item per change (ids `group:<key>:<version>`: a replay enqueues the same ids, which the
 * outbox ignores), THEN save the state, then (the notifier) commit the offset. A crash between any two
 * steps replays from the state saved last and enqueues nothing twice; a state saved ahead of the
 * committed offset makes the replay skip the alerts it covers.
 */
export class GroupBook {
  private groups = new Map<string, AlertGroup>();
  /** The first offset the state does not cover; undefined: not loaded (or lost) yet. */
  private covers: bigint | undefined;
  private loaded = false;

  constructor(
    private readonly sinkId: string,
    private readonly spec: GroupSpec,
    private readonly outbox: Outbox,
  ) {}

  /** vigil.alerts moved (a rebalance): the state is read again from the outbox before the next batch. */
  forget(): void {
    this.loaded = false;
  }

  /**
   * Applies a batch's alerts (each with its offset) that the state does not cover; `after` is the
   * offset past the batch. Returns the items added, or undefined when another notifier saved a later
   * state meanwhile (this one then reads it again).
   */
  async handOut(
    alerts: readonly { readonly offset: string; readonly alert: Alert }[],
    after: string,
    now: number,
  ): Promise<number | undefined> {
    if (!this.loaded) await this.load();
    const changed = new Map<string, AlertGroup>();
    const items: { id: string; payload: string }[] = [];
    for (const { offset, alert } of alerts) {
      if (this.covers !== undefined && BigInt(offset) < this.covers) continue;
      const key = groupKey(this.spec, alert);
      const next = applyAlert(this.spec, this.groups.get(key), alert);
      if (next === undefined) continue;
      this.groups.set(key, next);
      changed.set(key, next);
      const item: GroupItem = { group: key, version: next.version };
      items.push({ id: `group:${key}:${next.version}`, payload: JSON.stringify(item) });
    }
    if (changed.size === 0) return 0;
    const added = await this.outbox.enqueueAt(this.sinkId, items, now, now + this.spec.waitMs);
    const states = new Map([...changed].map(([k, g]) => [k, JSON.stringify(g)]));
    if (!(await this.outbox.saveGroups(this.sinkId, after, states))) {
      this.loaded = false;
      return undefined;
    }
    this.covers = BigInt(after);
    return added;
  }

  /**
   * The stored groups. One whose state cannot be read starts again with no member, its versions
   * going on from the last one sent: its next change is told, the members it had are not known.
   */
  private async load(): Promise<void> {
    const stored = await this.outbox.loadGroups(this.sinkId);
    this.groups = new Map();
    for (const [key, json] of stored.groups)
      this.groups.set(
        key,
        parseGroup(json) ?? emptyGroup(key, (await this.outbox.group(this.sinkId, key)).sent),
      );
    this.covers = stored.offset === undefined ? undefined : BigInt(stored.offset);
    this.loaded = true;
  }
}
