import { status, type Server, type ServerWritableStream } from '@grpc/grpc-js';
import { ALERT_ID, type AlertFilter, type AlertSince } from '../../core/alert-feed.js';
import type { Alert } from '../../core/outputs.js';
import type { Alert as AlertMessage } from '../../gen/vigil/v1/Alert.js';
import type { SubscribeRequest__Output } from '../../gen/vigil/v1/SubscribeRequest.js';
import type { AlertLog } from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import type { Subscriptions } from '../alert-subscription.js';
import { AlertSubscription, type AlertWriter } from '../alert-subscription.js';
import type { VigilGrpc } from './proto.js';

export interface AlertsService {
  /** Ends every subscription with UNAVAILABLE (the subscriber reconnects elsewhere with since_id). */
  close(): Promise<void>;
  /** Subscriptions being served now. */
  readonly active: number;
}

const SEVERITIES = new Set(['info', 'warning', 'critical']);

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
 * The Alerts service: Subscribe streams the whole cluster's alerts (vigil.alerts holds every node's)
 * from any node, resumable after an alert id with nothing missed and nothing repeated.
 */
export function addAlertsService(
  server: Server,
  grpc: VigilGrpc,
  alertLog: AlertLog,
  subscriptions: Subscriptions,
  logger: Logger,
): AlertsService {
  const open = async (call: Call): Promise<void> => {
    const parsed = parseSubscribe(call.request);
    if (!parsed.ok) {
      call.emit('error', { code: status.INVALID_ARGUMENT, details: parsed.details });
      return;
    }
    let ended = false;
    const writer: AlertWriter = {
      write: (a) => call.write(toAlertMessage(a)),
      onDrain: (wake) => call.on('drain', wake),
      end: (error) => {
        if (ended) return;
        ended = true;
        if (error !== undefined) call.emit('error', error);
        else call.end();
      },
    };
    await AlertSubscription.open({
      alertLog,
      since: parsed.since,
      filter: parsed.filter,
      writer,
      logger,
      subscriptions,
      holder: call.metadata.get('authorization')[0]?.toString(),
      onOpen: (s) => {
        // The subscriber went away: nothing to tell it.
        call.on('cancelled', () => {
          ended = true;
          void s.close();
        });
      },
    });
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
      return subscriptions.active;
    },
    close: () => subscriptions.closeAll(),
  };
}
