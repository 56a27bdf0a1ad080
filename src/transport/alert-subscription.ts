import { createHash } from 'node:crypto';
import { positionAfter, skipGaps } from '../core/log-position.js';
import { status } from '@grpc/grpc-js';
import { AlertFeed, decodeAlertRecord, type AlertFilter, type AlertSince } from '../core/alert-feed.js';
import type { Alert } from '../core/outputs.js';
import type { AlertLog, BatchControl, ConsumedBatch, RecordConsumer } from '../ports/record-log.js';
import type { Logger } from '../obs/logger.js';

/** While a slow subscriber's stream is full, the reader's group still needs heartbeats. */
const HEARTBEAT_MS = 1_000;

/** How a subscription ends when it is not the subscriber's choice: a gRPC status and a sentence. */
export interface StreamEnd {
  readonly code: status;
  readonly details: string;
}

/** Where a subscription's alerts go: a gRPC server stream, or an HTTP event stream. */
export interface AlertWriter {
  /** Sends one alert; false when the stream's buffer is full (the subscription waits for `drain`). */
  write(alert: Alert): boolean;
  /** Calls `wake` whenever the stream takes writes again. */
  onDrain(wake: () => void): void;
  /** Ends the stream: with an error for the subscriber, or cleanly (undefined). */
  end(error?: StreamEnd): void;
}

export const NOT_FOUND_END: StreamEnd = {
  code: status.NOT_FOUND,
  details:
    'since_id is not in vigil.alerts (never produced, or older than its retention): subscribe with since_ts instead',
};

/**
 * One subscription to the cluster's alerts: a private reader of vigil.alerts from where `since` says,
 * through an AlertFeed (resume point, dedupe, filter), into a writer, honouring its backpressure. The
 * same for the gRPC Alerts service and the dashboard's event stream.
 *
 * Lifecycle: open (reader starting) -> streaming -> closed. It closes when the subscriber goes away,
 * when the node shuts down (UNAVAILABLE), when since_id is not in the log (NOT_FOUND) or when the
 * reader fails for good (UNAVAILABLE). Closing stops the reader; nothing is committed anywhere.
 */
export class AlertSubscription {
  private next: bigint;
  private closed = false;
  private closing: Promise<void> | undefined;
  private drainWaiters: (() => void)[] = [];
  private readonly reader: RecordConsumer;

  private constructor(
    private readonly writer: AlertWriter,
    private readonly alertLog: AlertLog,
    private readonly feed: AlertFeed,
    start: bigint,
    private readonly endAtSubscribe: bigint,
    private readonly logger: Logger,
    private readonly registry: Subscriptions,
    private readonly place: Place,
  ) {
    this.next = start;
    this.reader = alertLog.reader();
    writer.onDrain(() => {
      this.wakeWriters();
    });
  }

  /**
   * Opens a subscription and starts reading; undefined when it ended at once (the node or the token
   * has all the subscriptions it may have, since_id cannot be in an empty log, or the reader could not
   * start), in which case the writer has been ended. `onOpen` runs once it is registered (to end it when
   * the subscriber goes away).
   */
  static async open(o: {
    readonly alertLog: AlertLog;
    readonly since: AlertSince;
    readonly filter: AlertFilter;
    readonly writer: AlertWriter;
    readonly logger: Logger;
    readonly subscriptions: Subscriptions;
    /** Who asks (their token's authorization header): limits.subscriptionsPerToken counts by it. */
    readonly holder: string | undefined;
    readonly onOpen?: (s: AlertSubscription) => void;
  }): Promise<AlertSubscription | undefined> {
    const place = o.subscriptions.reserve(o.holder);
    if (!('release' in place)) {
      o.writer.end(place);
      return undefined;
    }
    let end: bigint;
    try {
      end = await o.alertLog.endOffset();
    } catch (err) {
      place.release();
      throw err;
    }
    const start = o.since.kind === 'live' ? end : 0n;
    if (o.since.kind === 'id' && end === 0n) {
      place.release();
      o.writer.end(NOT_FOUND_END);
      return undefined;
    }
    const s = new AlertSubscription(
      o.writer,
      o.alertLog,
      new AlertFeed(o.since, o.filter),
      start,
      end,
      o.logger,
      o.subscriptions,
      place,
    );
    o.subscriptions.add(s);
    o.onOpen?.(s);
    try {
      await s.reader.start([o.alertLog.topic], {
        onAssignment: (parts) => {
          // A rejoin (after a long stall, say) would otherwise restart from the group's default.
          for (const p of parts) s.reader.seek(p, s.next.toString());
        },
        onBatch: (batch, control) => s.deliver(batch, control),
        onFatal: (err) => {
          void s.close({ code: status.UNAVAILABLE, details: `alert log reader failed: ${err.message}` });
        },
      });
    } catch (err) {
      o.logger.warn({ err }, 'alert subscription failed');
      await s.close({ code: status.UNAVAILABLE, details: `cannot read vigil.alerts: ${String(err)}` });
      return undefined;
    }
    return s;
  }

  private async deliver(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    for (const record of batch.records) {
      if (this.closed) return;
      const offset = BigInt(record.offset);
      if (offset < this.next) continue; // re-delivered after a seek
      this.next = offset + 1n;
      const decoded = decodeAlertRecord(record);
      if (decoded === undefined) continue;
      if (!decoded.ok) {
        // Only Vigil writes vigil.alerts; a record it cannot read is a bug to see, not a reason to stop.
        this.logger.warn(
          { offset: record.offset, reason: decoded.reason },
          'unreadable alert record skipped',
        );
        continue;
      }
      const out = this.feed.accept(decoded.value);
      if (out !== undefined && !this.writer.write(out)) await this.drained(control);
    }
    // Past the batch's trailing control records too: offsets have gaps, and the end check needs it.
    const last = batch.records[batch.records.length - 1];
    const past =
      last === undefined
        ? skipGaps(this.next, batch.start, batch.end)
        : positionAfter(last.offset, batch.end);
    if (past !== undefined && past > this.next) this.next = past;
    // Not awaited: stopping the reader waits for this batch handler to return (awaiting it here would
    // wait forever, and so would the node's shutdown).
    if (this.feed.missing(this.next, this.endAtSubscribe)) void this.close(NOT_FOUND_END);
  }

  /** Waits until the stream takes writes again (or the subscription ends), heartbeating the group. */
  private async drained(control: BatchControl): Promise<void> {
    while (!this.closed) {
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          resolve(false);
        }, HEARTBEAT_MS);
        this.drainWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (woke) return;
      await control.heartbeat();
    }
  }

  private wakeWriters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Ends the subscription: the writer with `end` (the subscriber left: undefined), then the reader.
   * Every call returns the same promise, settled once the reader has stopped.
   */
  close(end?: StreamEnd): Promise<void> {
    this.closing ??= this.shut(end);
    return this.closing;
  }

  private async shut(end: StreamEnd | undefined): Promise<void> {
    this.closed = true;
    this.wakeWriters();
    this.registry.delete(this);
    this.place.release();
    this.writer.end(end);
    try {
      await this.reader.stop();
    } catch (err) {
      this.logger.warn({ err }, 'stopping an alert reader failed');
    }
  }
}

/** A subscription's place in the limits, given back when it ends. */
export interface Place {
  release(): void;
}

/** Subscriptions a node serves at once, all and per token (config `limits`). */
export interface SubscriptionLimits {
  readonly perNode: number;
  readonly perToken: number;
}

/**
 * The open subscriptions of one node (gRPC and HTTP streams alike), so shutdown can end them all, and
 * their limits: each holds a Kafka reader, so a client that opens streams and never reads them gets
 * RESOURCE_EXHAUSTED, not a node out of connections.
 */
export class Subscriptions {
  private readonly open = new Set<AlertSubscription>();
  private places = 0;
  private readonly perHolder = new Map<string, number>();

  constructor(
    private readonly limits: SubscriptionLimits = {
      perNode: Number.POSITIVE_INFINITY,
      perToken: Number.POSITIVE_INFINITY,
    },
  ) {}

  get active(): number {
    return this.open.size;
  }

  /** A place for one more subscription of `holder`, or how the stream ends when there is none. */
  reserve(holder: string | undefined): Place | StreamEnd {
    const key = holder === undefined ? '' : createHash('sha256').update(holder).digest('hex');
    const held = this.perHolder.get(key) ?? 0;
    if (this.places >= this.limits.perNode)
      return {
        code: status.RESOURCE_EXHAUSTED,
        details: `this node serves ${this.places} alert subscriptions, its limit (limits.subscriptionsPerNode): subscribe on another node, or later`,
      };
    if (held >= this.limits.perToken)
      return {
        code: status.RESOURCE_EXHAUSTED,
        details: `this token holds ${held} alert subscriptions on this node, its limit (limits.subscriptionsPerToken): end one first`,
      };
    this.places++;
    this.perHolder.set(key, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.places--;
        const n = (this.perHolder.get(key) ?? 1) - 1;
        if (n === 0) this.perHolder.delete(key);
        else this.perHolder.set(key, n);
      },
    };
  }

  add(s: AlertSubscription): void {
    this.open.add(s);
  }

  delete(s: AlertSubscription): void {
    this.open.delete(s);
  }

  /** Ends every subscription with UNAVAILABLE: subscribers reconnect elsewhere with since_id. */
  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.open].map((s) =>
        s.close({ code: status.UNAVAILABLE, details: 'node shutting down: resubscribe with since_id' }),
      ),
    );
  }
}
