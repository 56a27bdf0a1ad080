import type { IncomingMessage, ServerResponse } from 'node:http';
import { ALERT_ID, type AlertSince } from '../../core/alert-feed.js';
import { HTTP_OF_GRPC } from '../../core/errors.js';
import { AlertSubscription, type AlertWriter, type StreamEnd } from '../alert-subscription.js';
import { statusName } from '../grpc/status.js';
import { READ, type DashboardDeps } from './dashboard-deps.js';
import { json, type Reply, type Route } from './server.js';

/** The `since` of an alert stream: `since_id`, `since_ts` (epoch ms), or live. */
function sinceOf(url: URL): AlertSince | string {
  const id = url.searchParams.get('since_id');
  if (id !== null) return ALERT_ID.test(id) ? { kind: 'id', id } : `since_id "${id}" is not an alert id`;
  const ts = url.searchParams.get('since_ts');
  if (ts !== null) {
    const n = Number(ts);
    return Number.isSafeInteger(n) && n >= 0 ? { kind: 'time', ts: n } : `since_ts "${ts}" is not epoch ms`;
  }
  return { kind: 'live' };
}

/** The cluster's alerts as Server-Sent Events: an event per alert, its id the resume point. */
export function alertStreamRoute(d: Pick<DashboardDeps, 'alertLog' | 'subscriptions' | 'logger'>): Route {
  return {
    method: 'GET',
    path: '/api/alerts',
    access: READ,
    handle: ({ req, res, url }) => stream(d, req, res, url),
  };
}

async function stream(
  d: Pick<DashboardDeps, 'alertLog' | 'subscriptions' | 'logger'>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<Reply | undefined> {
  if (d.alertLog === undefined) return json(409, { errors: ['this node reads no alert log'] });
  const since = sinceOf(url);
  if (typeof since === 'string') return json(400, { errors: [since] });
  // The event stream starts once the subscription is open: a subscription refused at once (a limit
  // reached, since_id not in the log) is an HTTP error (429, 404), not a stream that ends at once.
  let keepAlive: NodeJS.Timeout | undefined;
  let started = false;
  let refused: StreamEnd | undefined;
  const begin = (): void => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // A comment every 15 s keeps proxies from closing a quiet stream.
    keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  };
  let ended = false;
  const writer: AlertWriter = {
    write: (a) => {
      begin();
      return res.write(`id: ${a.id}\nevent: alert\ndata: ${JSON.stringify(a)}\n\n`);
    },
    onDrain: (wake) => res.on('drain', wake),
    end: (error) => {
      if (ended) return;
      ended = true;
      if (!started) {
        // Refused before it started: answered below with an HTTP status.
        if (error !== undefined) refused = error;
        else res.writeHead(204).end();
        return;
      }
      clearInterval(keepAlive);
      if (error !== undefined) res.write(`event: end\ndata: ${JSON.stringify(error)}\n\n`);
      res.end();
    },
  };
  await AlertSubscription.open({
    alertLog: d.alertLog,
    since,
    filter: { sensorIds: [], ruleIds: [], severities: [], labels: {} },
    writer,
    logger: d.logger,
    subscriptions: d.subscriptions,
    holder: req.headers.authorization,
    onOpen: (s) => {
      begin();
      req.on('close', () => {
        ended = true;
        clearInterval(keepAlive);
        void s.close();
      });
    },
  });
  return refused === undefined
    ? undefined
    : json(HTTP_OF_GRPC[statusName(refused.code)], { errors: [refused.details] });
}
