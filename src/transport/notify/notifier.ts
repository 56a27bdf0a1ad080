import { positionAfter } from '../../core/log-position.js';
import type { VigilConfig } from '../../config/load.js';
import { decodeAlertRecord } from '../../core/alert-feed.js';
import { groupNotification, parseGroup, type GroupSpec } from '../../core/alert-groups.js';
import { retryDelay, sinkTakes, type SinkFilter } from '../../core/notify.js';
import type { Alert } from '../../core/outputs.js';
import { toVigilError } from '../../core/errors.js';
import { type ConsumedBatch, type RecordConsumer, type RecordProducer } from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import type { Outbox, OutboxItem } from '../../ports/outbox.js';
import { GroupBook, type GroupItem } from './group-book.js';
import type { Sink } from './sink.js';
import { resends, StandingAlerts } from './standing.js';
import type { NodeMetrics } from '../../obs/metrics.js';

export interface NotifierDeps {
  readonly sinks: readonly {
    readonly sink: Sink;
    readonly filter: SinkFilter;
    /** Grouped notifications instead of one per alert (core/alert-groups.ts). */
    readonly group?: GroupSpec;
  }[];
  readonly outbox: Outbox;
  /** A member of the notify group on vigil.alerts (one partition: one node hands alerts out). */
  readonly consumer: RecordConsumer;
  readonly topics: { readonly alerts: string; readonly dlq: string };
  /** For alerts a sink can never take: they go to vigil.dlq with the reason. */
  readonly producer: RecordProducer;
  readonly retry: VigilConfig['notify']['retry'];
  readonly logger: Logger;
  /** How often an idle sink looks at its queue (a local enqueue wakes it at once). */
  readonly idlePollMs?: number;
  readonly metrics?: NodeMetrics;
}

export interface SinkStats {
  enqueued: number;
  delivered: number;
  failures: number;
  deadLettered: number;
  /**
   * Group changes a notification sent before them already showed (grouped sinks), and alerts a later
   * state of their rule and sensor overtook (resending sinks).
   */
  coalesced: number;
}

const newStats = (): SinkStats => ({ enqueued: 0, delivered: 0, failures: 0, deadLettered: 0, coalesced: 0 });

/**
 * What a due item sends: an alert, the firing alerts again (a resending sink's period), nothing (a
 * group change already sent, or an alert a later one of its rule and sensor overtook), or not yet.
 */
type Resolved =
  | { readonly send: Alert; readonly group?: { readonly key: string; readonly version: number } }
  | { readonly resend: true }
  | 'covered'
  | 'not-ready';

/** An outbox item of a resending sink: send the firing alerts again, once per period (by its id). */
interface ResendItem {
  readonly resend: number;
}

/** A group item the saved state has not reached after this long is a stale notifier's (see deliver). */
const STALE_GROUP_ITEM_MS = 300_000;

/** Items a worker claims at once: a few, so one node does not hide a long queue from the others. */
const CLAIM = 16;

/**
 * Alert notifications, in two halves joined by one persisted queue per sink (the outbox):
 *
 *   hand-out   the member of the notify group that holds vigil.alerts (one partition) enqueues every
 *              new alert for each sink whose filter takes it, then commits the offset. A replay after a
 *              crash enqueues the same ids again, which the outbox ignores. A grouped sink gets one
 *              item per group change instead, due after its wait (group-book.ts); the item that
 *              comes due first sends the group as it is then (resolve).
 *   delivery   on every node, one worker per sink claims due items and delivers them. Success: acked.
 *              Failure: due again after a backoff (or the sink's Retry-After), with the error kept.
 *              Refused for good, or undelivered after `giveUpAfter`: to vigil.dlq with the reason,
 *              then acked. A claimed item a dead node was delivering is due again after `visibility`.
 *
 * So a failing sink never blocks the others (its own queue and worker), never drops an alert (it
 * waits in Redis), and a slow alert does not hold up the alerts behind it. Delivery is at least once;
 * every sink gets the alert id to drop repeats (webhook Idempotency-Key, email Message-ID, file name).
 */
export class Notifier {
  readonly stats = new Map<string, SinkStats>();
  private running = false;
  private readonly workers: Promise<void>[] = [];
  private readonly wakers = new Map<string, () => void>();
  private readonly books = new Map<string, GroupBook>();
  private readonly standing = new Map<string, StandingAlerts>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly d: NotifierDeps) {
    for (const { sink, group } of d.sinks) {
      this.stats.set(sink.id, newStats());
      if (group !== undefined) this.books.set(sink.id, new GroupBook(sink.id, group, d.outbox));
      if (resends(sink))
        this.standing.set(
          sink.id,
          new StandingAlerts(sink, d.outbox, d.retry.giveUpAfterMs + d.retry.visibilityMs),
        );
    }
  }

  async start(): Promise<void> {
    this.running = true;
    await this.d.consumer.start([this.d.topics.alerts], {
      onAssignment: () => {
        for (const book of this.books.values()) book.forget();
      },
      onBatch: (batch) => this.handOut(batch),
      onFatal: (err) => {
        this.d.logger.error({ err }, 'the notify consumer failed for good: no new alerts are handed out');
      },
    });
    for (const { sink } of this.d.sinks) this.workers.push(this.work(sink));
    for (const { sink } of this.d.sinks) if (sink.resend !== undefined) this.scheduleResends(sink);
    this.d.logger.info(
      { sinks: this.d.sinks.map((s) => `${s.sink.id} (${s.sink.kind})`) },
      'notifier started',
    );
  }

  /**
   * Every node enqueues the period's resend item (id `resend:<period>`); the outbox keeps one per id,
   * so one node sends the firing alerts again each period, with the outbox's retries.
   */
  private scheduleResends(sink: Sink): void {
    const everyMs = sink.resend?.everyMs ?? 0;
    const enqueue = (): void => {
      const period = Math.floor(Date.now() / everyMs);
      const item = {
        id: `resend:${period}`,
        payload: JSON.stringify({ resend: period } satisfies ResendItem),
      };
      this.d.outbox.enqueue(sink.id, [item], Date.now()).then(
        (added) => {
          if (added > 0) this.wakers.get(sink.id)?.();
        },
        (err: unknown) => {
          this.d.logger.warn(
            { err: toVigilError(err), sink: sink.id },
            'cannot enqueue a resend; next period',
          );
        },
      );
    };
    enqueue();
    const timer = setInterval(enqueue, everyMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async handOut(batch: ConsumedBatch): Promise<void> {
    const alerts: { offset: string; alert: Alert }[] = [];
    for (const r of batch.records) {
      const decoded = decodeAlertRecord(r);
      if (decoded === undefined) continue;
      if (decoded.ok) alerts.push({ offset: r.offset, alert: decoded.value });
      else
        this.d.logger.warn({ offset: r.offset, reason: decoded.reason }, 'unreadable alert record skipped');
    }
    const last = batch.records[batch.records.length - 1];
    if (last === undefined) return;
    // Past the batch, transaction markers after it included (offsets have gaps).
    const after = positionAfter(last.offset, batch.end).toString();
    const now = Date.now();
    for (const { sink, filter } of this.d.sinks) {
      const taken = alerts.filter((a) => sinkTakes(filter, a.alert));
      if (taken.length === 0) continue;
      const book = this.books.get(sink.id);
      const added =
        book === undefined
          ? await this.d.outbox.enqueue(
              sink.id,
              taken.map(({ alert }) => ({ id: alert.id, payload: JSON.stringify(alert) })),
              now,
            )
          : await book.handOut(taken, after, now);
      if (added === undefined)
        this.d.logger.warn({ sink: sink.id }, 'another notifier saved later groups: reading them again');
      this.stat(sink.id).enqueued += added ?? 0;
      if ((added ?? 0) > 0) this.wakers.get(sink.id)?.();
    }
    await this.d.consumer.commit(batch, after);
  }

  /** A method, not the field, so loops re-read it after every await. */
  private isRunning(): boolean {
    return this.running;
  }

  private stat(sinkId: string): SinkStats {
    return this.stats.get(sinkId) ?? newStats();
  }

  /** One sink's delivery loop on this node. */
  private async work(sink: Sink): Promise<void> {
    const log = this.d.logger.child({ sink: sink.id });
    let failures = 0;
    while (this.running) {
      let claimed: OutboxItem[] = [];
      try {
        claimed = await this.d.outbox.claim(sink.id, Date.now(), CLAIM, this.d.retry.visibilityMs);
        failures = 0;
      } catch (err) {
        failures++;
        log.warn({ err: toVigilError(err) }, 'cannot read the outbox; trying again');
      }
      for (const item of claimed) {
        if (!this.isRunning()) break;
        await this.deliver(sink, item, log).catch((err: unknown) => {
          // The outbox itself failed (Redis away): the claim lapses and the item comes back.
          log.warn({ err: toVigilError(err), alert: item.id }, 'recording a delivery failed');
        });
      }
      if (claimed.length === 0)
        await this.sleep(
          sink.id,
          failures > 0 ? Math.min(5_000, 250 * 2 ** failures) : (this.d.idlePollMs ?? 250),
        );
    }
  }

  /**
   * The alert an item sends. A group change sends the group as it is now, unless a notification of
   * this version or a later one went out already (covered), or the hand-out has not saved the state
   * of this change yet (not ready: it saves right after enqueueing).
   */
  private async resolve(sink: Sink, item: OutboxItem): Promise<Resolved> {
    const parsed = JSON.parse(item.payload) as Alert | GroupItem | ResendItem;
    if ('resend' in parsed) return { resend: true };
    if (!('group' in parsed)) {
      const standing = this.standing.get(sink.id);
      return standing === undefined || (await standing.record(parsed)) ? { send: parsed } : 'covered';
    }
    const { state, sent } = await this.d.outbox.group(sink.id, parsed.group);
    if (sent >= parsed.version) return 'covered';
    const group = state === undefined ? undefined : parseGroup(state);
    if (group === undefined || group.version < parsed.version) return 'not-ready';
    return { send: groupNotification(group), group: { key: group.key, version: group.version } };
  }

  private async deliver(sink: Sink, item: OutboxItem, log: Logger): Promise<void> {
    const stats = this.stat(sink.id);
    const resolved = await this.resolve(sink, item);
    if (resolved === 'covered') {
      await this.d.outbox.ack(sink.id, item.id, Date.now());
      stats.coalesced++;
      return;
    }
    if (resolved === 'not-ready') {
      // The hand-out saves a group right after enqueueing its change. An item still ahead of the saved
      // state minutes later came from a notifier whose state was refused (it had lost vigil.alerts):
      // the owner's own items tell that group's changes.
      if (Date.now() - item.firstAt > STALE_GROUP_ITEM_MS) {
        await this.d.outbox.ack(sink.id, item.id, Date.now());
        log.warn(
          { item: item.id },
          'a group change no saved state shows, from a notifier that lost its turn: dropped',
        );
      } else await this.d.outbox.retry(sink.id, item.id, Date.now() + 1_000, 'the group is not saved yet');
      return;
    }
    if ('resend' in resolved) {
      await this.resend(sink, item, log);
      return;
    }
    const alert = resolved.send;
    const standing = this.standing.get(sink.id);
    try {
      await sink.deliver(alert);
      const overtaken = await standing?.overtaken(alert);
      if (overtaken !== undefined) await sink.deliver(overtaken);
      if (resolved.group !== undefined)
        await this.d.outbox.sentGroup(sink.id, resolved.group.key, resolved.group.version);
      await this.d.outbox.ack(sink.id, item.id, Date.now());
      stats.delivered++;
      this.d.metrics?.notifications.inc({ sink: sink.id, outcome: 'delivered' });
      return;
    } catch (err) {
      stats.failures++;
      const e = toVigilError(err);
      const { giveUpAfterMs, initialMs, maxMs } = this.d.retry;
      const tooOld = Date.now() - item.firstAt >= giveUpAfterMs;
      if (!e.retriable || tooOld) {
        const reason = `${e.retriable ? `not delivered within ${giveUpAfterMs} ms` : 'refused'} by sink ${sink.id} (${sink.kind}) after ${item.attempts} attempt(s): ${e.message}`;
        await this.d.producer.send([
          {
            topic: this.d.topics.dlq,
            messages: [
              {
                key: alert.sensorId,
                value: JSON.stringify(alert),
                headers: {
                  'vigil-id': `notify:${sink.id}:${alert.id}`,
                  'vigil-reason': reason,
                  'vigil-source-topic': this.d.topics.alerts,
                  'vigil-sink': sink.id,
                },
              },
            ],
          },
        ]);
        await standing?.withdraw(alert);
        await this.d.outbox.ack(sink.id, item.id, Date.now());
        stats.deadLettered++;
        this.d.metrics?.notifications.inc({ sink: sink.id, outcome: 'dead_lettered' });
        this.d.metrics?.deadLetters.inc({ source: 'notify' });
        log.error({ alert: item.id, reason }, 'alert sent to the dead-letter topic');
        return;
      }
      const wait = Math.max(
        retryDelay(item.attempts, initialMs, maxMs),
        (err as { retryAfterMs?: number }).retryAfterMs ?? 0,
      );
      await this.d.outbox.retry(sink.id, item.id, Date.now() + wait, e.message);
      this.d.metrics?.notifications.inc({ sink: sink.id, outcome: 'retried' });
      log.warn(
        { alert: item.id, attempts: item.attempts, retryInMs: wait, err: e.message },
        'delivery failed; retrying',
      );
    }
  }

  /**
   * A period's resend: the firing alerts sent again. Failing, it is tried again with the usual backoff
   * until the next period's item takes over.
   */
  private async resend(sink: Sink, item: OutboxItem, log: Logger): Promise<void> {
    const standing = this.standing.get(sink.id);
    try {
      const sent = (await standing?.resend()) ?? 0;
      await this.d.outbox.ack(sink.id, item.id, Date.now());
      if (sent > 0) log.debug({ alerts: sent }, 'firing alerts sent again');
    } catch (err) {
      const e = toVigilError(err);
      if (Date.now() - item.firstAt >= (sink.resend?.everyMs ?? 0)) {
        await this.d.outbox.ack(sink.id, item.id, Date.now());
        log.warn({ err: e.message }, 'sending the firing alerts again failed; the next period tries again');
      } else {
        const wait = retryDelay(item.attempts, this.d.retry.initialMs, this.d.retry.maxMs);
        await this.d.outbox.retry(sink.id, item.id, Date.now() + wait, e.message);
      }
    }
  }

  private sleep(sinkId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(sinkId, done);
    });
  }

  /** Queue depth per sink (waiting, due or not). */
  async depths(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const { sink } of this.d.sinks) out[sink.id] = await this.d.outbox.depth(sink.id);
    return out;
  }

  /**
   * Leaves the notify group, lets each delivery in progress finish, and closes the sinks, the outbox
   * and the producer (the notifier owns them).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    await this.d.consumer.stop();
    for (const wake of this.wakers.values()) wake();
    await Promise.all(this.workers);
    for (const { sink } of this.d.sinks) await sink.close().catch(() => undefined);
    await this.d.producer.close();
    await this.d.outbox.close();
  }
}
