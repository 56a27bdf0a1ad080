import { status, type Server, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import {
  ALERT_ID,
  AlertFeed,
  decodeAlert,
  type AlertFilter,
  type AlertSince,
} from '../../core/alert-feed.js';
import type { Alert } from '../../core/outputs.js';
import type { Alert as AlertMessage } from '../../gen/vigil/v1/Alert.js';
import type { SubscribeRequest__Output } from '../../gen/vigil/v1/SubscribeRequest.js';
import type { AlertLog, BatchControl, ConsumedBatch, LogConsumer } from '../../log/log.js';
import type { Logger } from '../../log.js';
import type { VigilGrpc } from './proto.js';

export interface AlertsService {
  /** Ends every subscription with UNAVAILABLE (the subscriber reconnects elsewhere with since_id). */
  close(): Promise<void>;
  /** Subscriptions being served now. */
  readonly active: number;
}

const SEVERITIES = new Set(['info', 'warning', 'critical']);

/** While a slow subscriber's stream is full, the reader's group still needs heartbeats. */
const HEARTBEAT_MS = 1_000;

type Call = ServerWritableStream<SubscribeRequest__Output, AlertMessage>;

/** The request as the feed needs it, or the INVALID_ARGUMENT sentence saying what is wrong. */
export function parseSubscribe(
  req: SubscribeRequest__Output,
): { ok: true; since: AlertSince; filter: AlertFilter } | { ok: false; details: string } {
  const f = req.filter;
  const filter: AlertFilter = {
    sensorIds: f?.sensorIds ?? [],
    ruleIds: f?.ruleIds ?? [],
    severities: f?.severities ?? [],
    labels: f?.labels ?? {},
  };
  const badSeverity = filter.severities.find((s) => !SEVERITIES.has(s));
  if (badSeverity !== undefined)
    return { ok: false, details: `filter.severities: "${badSeverity}" is not info, warning or critical` };
  if (req.since === 'sinceId') {
    const id = req.sinceId ?? '';
    if (!ALERT_ID.test(id))
      return { ok: false, details: `since_id "${id}" is not an alert id (32 lower-case hex characters)` };
    return { ok: true, since: { kind: 'id', id }, filter };
  }
  if (req.since === 'sinceTs') {
    const ts = Number(req.sinceTs);
    if (!Number.isSafeInteger(ts) || ts < 0)
      return { ok: false, details: `since_ts ${String(req.sinceTs)} is not epoch milliseconds >= 0` };
    return { ok: true, since: { kind: 'time', ts }, filter };
  }
  return { ok: true, since: { kind: 'live' }, filter };
}

export function toAlertMessage(a: Alert): AlertMessage {
  const { report, ...rest } = a;
  return {
    ...rest,
    ts: String(a.ts),
    startedAt: String(a.startedAt),
    labels: { ...a.labels },
    ...(report === undefined
      ? {}
      : {
          report: {
            window: report.window,
            start: String(report.start),
            end: String(report.end),
            counts: Object.fromEntries(Object.entries(report.counts).map(([k, v]) => [k, String(v)])),
            lines: [...report.lines],
            linesOmitted: String(report.linesOmitted),
          },
        }),
  };
}

/**
 * One subscription: a private reader of vigil.alerts from where the request says, through an
 * AlertFeed (resume point, dedupe, filter), into the call, honouring write() backpressure.
 *
 * Lifecycle: open (reader starting) -> streaming -> closed. It closes when the client cancels, when
 * the node shuts down (UNAVAILABLE), when since_id is not in the log (NOT_FOUND) or when the reader
 * fails for good (UNAVAILABLE). Closing stops the reader; nothing is committed anywhere.
 */
class Subscription {
  private next: bigint;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private readonly reader: LogConsumer;

  constructor(
    private readonly call: Call,
    private readonly log: AlertLog,
    private readonly feed: AlertFeed,
    start: bigint,
    private readonly endAtSubscribe: bigint,
    private readonly logger: Logger,
    private readonly onClosed: (s: Subscription) => void,
  ) {
    this.next = start;
    this.reader = log.reader();
    call.on('cancelled', () => {
      void this.close();
    });
    call.on('drain', () => {
      this.wakeWriters();
    });
  }

  async start(): Promise<void> {
    await this.reader.start([this.log.topic], {
      onAssignment: (parts) => {
        // A rejoin (after a long stall, say) would otherwise restart from the group's default.
        for (const p of parts) this.reader.seek(p, this.next.toString());
      },
      onBatch: (batch, control) => this.deliver(batch, control),
      onFatal: (err) => {
        void this.close({ code: status.UNAVAILABLE, details: `alert log reader failed: ${err.message}` });
      },
    });
  }

  private async deliver(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    for (const record of batch.records) {
      if (this.closed) return;
      const offset = BigInt(record.offset);
      if (offset < this.next) continue; // re-delivered after a seek
      this.next = offset + 1n;
      const decoded = decodeAlert(record.value);
      if (!decoded.ok) {
        // Only Vigil writes vigil.alerts; a record it cannot read is a bug to see, not a reason to stop.
        this.logger.warn(
          { offset: record.offset, reason: decoded.reason },
          'unreadable alert record skipped',
        );
        continue;
      }
      const out = this.feed.accept(decoded.value);
      if (out !== undefined && !this.call.write(toAlertMessage(out))) await this.drained(control);
    }
    if (this.feed.missing(this.next, this.endAtSubscribe)) await this.close(this.notFound());
  }

  notFound(): Partial<StatusObject> {
    return {
      code: status.NOT_FOUND,
      details:
        'since_id is not in vigil.alerts (never produced, or older than its retention): subscribe with since_ts instead',
    };
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

  async close(end?: Partial<StatusObject>): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeWriters();
    this.onClosed(this);
    if (end !== undefined) this.call.emit('error', end);
    try {
      await this.reader.stop();
    } catch (err) {
      this.logger.warn({ err }, 'stopping an alert reader failed');
    }
  }
}

/**
 * The Alerts service: Subscribe streams the whole cluster's alerts (vigil.alerts holds every node's)
 * from any node, resumable after an alert id with nothing missed and nothing repeated.
 */
export function addAlertsService(
  server: Server,
  grpc: VigilGrpc,
  log: AlertLog,
  logger: Logger,
): AlertsService {
  const subscriptions = new Set<Subscription>();
  const open = async (call: Call): Promise<void> => {
    const parsed = parseSubscribe(call.request);
    if (!parsed.ok) {
      call.emit('error', { code: status.INVALID_ARGUMENT, details: parsed.details });
      return;
    }
    const end = await log.endOffset();
    const start = parsed.since.kind === 'live' ? end : 0n;
    const subscription = new Subscription(
      call,
      log,
      new AlertFeed(parsed.since, parsed.filter),
      start,
      end,
      logger,
      (s) => subscriptions.delete(s),
    );
    if (parsed.since.kind === 'id' && end === 0n) {
      call.emit('error', subscription.notFound());
      return;
    }
    subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (err) {
      logger.warn({ err }, 'alert subscription failed');
      await subscription.close({
        code: status.UNAVAILABLE,
        details: `cannot read vigil.alerts: ${String(err)}`,
      });
    }
  };
  server.addService(grpc.vigil.v1.Alerts.service, {
    Subscribe: (call: Call) => {
      open(call).catch((err: unknown) => {
        logger.warn({ err }, 'alert subscription failed');
        call.emit('error', { code: status.UNAVAILABLE, details: `cannot read vigil.alerts: ${String(err)}` });
      });
    },
  });
  return {
    get active() {
      return subscriptions.size;
    },
    close: async () => {
      await Promise.all(
        [...subscriptions].map((s) =>
          s.close({ code: status.UNAVAILABLE, details: 'node shutting down: resubscribe with since_id' }),
        ),
      );
    },
  };
}
