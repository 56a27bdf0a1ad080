/** What the outbox keeps of a standing alert: the alert (JSON) and whether it is firing. */
export interface StandingEntry {
  readonly alert: string;
  readonly firing: boolean;
}

/** An alert waiting for one sink, as the outbox keeps it. */
export interface OutboxItem {
  /** The alert id: one item per alert and sink, whatever replays enqueue it again. */
  readonly id: string;
  readonly payload: string;
  /** Delivery attempts so far, this claim included. */
  readonly attempts: number;
  /** When it was enqueued (epoch ms). */
  readonly firstAt: number;
  readonly lastError?: string;
}

/**
 * One persisted retry queue per sink: alerts wait here until their sink has taken them. Items are
 * claimed, not popped: a claim hides an item for a visibility timeout, after which it is due again
 * unless acknowledged or rescheduled, so a node that dies mid-delivery loses nothing, and nodes can
 * deliver from one queue side by side without sending the same item at once (the claim is atomic).
 * Delivered ids are remembered for `rememberMs`, so an alert replayed after a crash is not enqueued
 * (and sent) again. Implementations: MemoryOutbox and RedisOutbox; both pass
 * test/contract/outbox.contract.ts.
 */
export interface Outbox {
  /** Adds the items not queued or delivered already (by id); returns how many were added. */
  enqueue(sink: string, items: readonly { id: string; payload: string }[], now: number): Promise<number>;
  /** Up to `max` items due at `now`, oldest due first; each is hidden until now + visibilityMs. */
  claim(sink: string, now: number, max: number, visibilityMs: number): Promise<OutboxItem[]>;
  /** Done with (delivered, or given up and dead-lettered): removed and remembered as done. */
  ack(sink: string, id: string, now: number): Promise<void>;
  /** Failed: due again at `dueAt`, with its error kept. */
  retry(sink: string, id: string, dueAt: number, error: string): Promise<void>;
  /** Items waiting (due or not), for metrics. */
  depth(sink: string): Promise<number>;
  /**
   * Adds these items due at `dueAt` (not now), as enqueue does otherwise: a group's change waits for
   * the changes after it (core/alert-groups.ts).
   */
  enqueueAt(
    sink: string,
    items: readonly { id: string; payload: string }[],
    now: number,
    dueAt: number,
  ): Promise<number>;
  /**
   * Writes groups' state (JSON by key) and the alerts offset it covers, unless the stored state covers
   * a later offset (a notifier that lost vigil.alerts to another node): false then.
   */
  saveGroups(sink: string, offset: string, groups: ReadonlyMap<string, string>): Promise<boolean>;
  /** Every group's state and the offset it covers (undefined: none saved). */
  loadGroups(sink: string): Promise<{ offset: string | undefined; groups: Map<string, string> }>;
  /** One group's state, and the highest version of it sent so far (0: none). */
  group(sink: string, key: string): Promise<{ state: string | undefined; sent: number }>;
  /** Records that `version` of the group was sent (a lower one never replaces a higher one). */
  sentGroup(sink: string, key: string, version: number): Promise<void>;
  /**
   * Records `alert` (JSON) as the latest state of `key` (a rule and sensor) for a sink that keeps
   * firing alerts standing (core/notify.ts), unless the stored state outranks `rank`: false then, and
   * nothing changes.
   */
  putStanding(
    sink: string,
    key: string,
    rank: readonly number[],
    entry: StandingEntry,
    now: number,
  ): Promise<boolean>;
  /**
   * The latest state of every key (resolved ones included, so a late firing is seen as stale), after
   * forgetting the resolved ones recorded before `forgetBefore`.
   */
  standing(sink: string, forgetBefore: number): Promise<Map<string, StandingEntry>>;
  close(): Promise<void>;
}
