import { outranks } from '../core/notify.js';
import type { Outbox, OutboxItem, StandingEntry } from './outbox.js';

interface Queue {
  readonly items: Map<string, { item: OutboxItem; dueAt: number }>;
  readonly done: Map<string, number>;
  groupsOffset: string | undefined;
  readonly groups: Map<string, string>;
  readonly sent: Map<string, number>;
  readonly standing: Map<string, Standing>;
}

interface Standing {
  readonly rank: readonly number[];
  readonly alert: string;
  readonly firing: boolean;
  readonly at: number;
}

/** The outbox in this process's memory (embedded mode, tests). */
export class MemoryOutbox implements Outbox {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly rememberMs = 86_400_000) {}

  private queue(sink: string): Queue {
    let q = this.queues.get(sink);
    if (q === undefined) {
      q = {
        items: new Map(),
        done: new Map(),
        groupsOffset: undefined,
        groups: new Map(),
        sent: new Map(),
        standing: new Map(),
      };
      this.queues.set(sink, q);
    }
    return q;
  }

  enqueue(sink: string, items: readonly { id: string; payload: string }[], now: number): Promise<number> {
    return this.add(sink, items, now, now);
  }

  enqueueAt(
    sink: string,
    items: readonly { id: string; payload: string }[],
    now: number,
    dueAt: number,
  ): Promise<number> {
    return this.add(sink, items, now, dueAt);
  }

  private add(
    sink: string,
    items: readonly { id: string; payload: string }[],
    now: number,
    dueAt: number,
  ): Promise<number> {
    const q = this.queue(sink);
    for (const [id, at] of q.done) if (at < now - this.rememberMs) q.done.delete(id);
    let added = 0;
    for (const { id, payload } of items) {
      if (q.items.has(id) || q.done.has(id)) continue;
      q.items.set(id, { item: { id, payload, attempts: 0, firstAt: now }, dueAt });
      added++;
    }
    return Promise.resolve(added);
  }

  claim(sink: string, now: number, max: number, visibilityMs: number): Promise<OutboxItem[]> {
    const q = this.queue(sink);
    const due = [...q.items.values()]
      .filter((e) => e.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, max);
    return Promise.resolve(
      due.map((e) => {
        const item = { ...e.item, attempts: e.item.attempts + 1 };
        q.items.set(item.id, { item, dueAt: now + visibilityMs });
        return item;
      }),
    );
  }

  ack(sink: string, id: string, now: number): Promise<void> {
    const q = this.queue(sink);
    q.items.delete(id);
    q.done.set(id, now);
    return Promise.resolve();
  }

  retry(sink: string, id: string, dueAt: number, error: string): Promise<void> {
    const entry = this.queue(sink).items.get(id);
    if (entry !== undefined) {
      entry.dueAt = dueAt;
      entry.item = { ...entry.item, lastError: error };
    }
    return Promise.resolve();
  }

  depth(sink: string): Promise<number> {
    return Promise.resolve(this.queue(sink).items.size);
  }

  saveGroups(sink: string, offset: string, groups: ReadonlyMap<string, string>): Promise<boolean> {
    const q = this.queue(sink);
    if (q.groupsOffset !== undefined && BigInt(q.groupsOffset) > BigInt(offset))
      return Promise.resolve(false);
    q.groupsOffset = offset;
    for (const [key, state] of groups) q.groups.set(key, state);
    return Promise.resolve(true);
  }

  loadGroups(sink: string): Promise<{ offset: string | undefined; groups: Map<string, string> }> {
    const q = this.queue(sink);
    return Promise.resolve({ offset: q.groupsOffset, groups: new Map(q.groups) });
  }

  group(sink: string, key: string): Promise<{ state: string | undefined; sent: number }> {
    const q = this.queue(sink);
    return Promise.resolve({ state: q.groups.get(key), sent: q.sent.get(key) ?? 0 });
  }

  sentGroup(sink: string, key: string, version: number): Promise<void> {
    const q = this.queue(sink);
    q.sent.set(key, Math.max(version, q.sent.get(key) ?? 0));
    return Promise.resolve();
  }

  putStanding(
    sink: string,
    key: string,
    rank: readonly number[],
    entry: StandingEntry,
    now: number,
  ): Promise<boolean> {
    const q = this.queue(sink);
    const stored = q.standing.get(key);
    if (stored !== undefined && !outranks(rank, stored.rank)) return Promise.resolve(false);
    q.standing.set(key, { rank: [...rank], ...entry, at: now });
    return Promise.resolve(true);
  }

  standing(sink: string, forgetBefore: number): Promise<Map<string, StandingEntry>> {
    const q = this.queue(sink);
    const out = new Map<string, { alert: string; firing: boolean }>();
    for (const [key, s] of q.standing) {
      if (!s.firing && s.at < forgetBefore) q.standing.delete(key);
      else out.set(key, { alert: s.alert, firing: s.firing });
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
