import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuntimeRules } from '../redis/runtime-rules.js';
import { clusterView, type ClusterViewSources } from './cluster-view.js';
import { finish, restoreAccumulator } from '../../core/aggregate.js';
import { ALERT_ID, type AlertSince } from '../../core/alert-feed.js';
import { toVigilError } from '../../core/errors.js';
import type { AlertLog } from '../../ports/record-log.js';
import type { Logger } from '../../obs/logger.js';
import type { StateStore } from '../../ports/state-store.js';
import { AlertSubscription, type AlertWriter, type Subscriptions } from '../alert-subscription.js';
import { json, type Reply, type Route } from './server.js';

const READ = '/http/dashboard/read';
const WRITE_RULES = '/http/dashboard/rules';

/** The page and its scripts: web/ of this repository, and uPlot (the charts) from its package. */
function assets(): Map<string, { text: Buffer; contentType: string }> {
  const web = fileURLToPath(new URL('../../../web/', import.meta.url));
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  const file = (path: string, contentType: string) => ({ text: readFileSync(path), contentType });
  return new Map([
    ['/', file(join(web, 'index.html'), 'text/html; charset=utf-8')],
    ['/assets/app.js', file(join(web, 'app.js'), 'text/javascript; charset=utf-8')],
    ['/assets/style.css', file(join(web, 'style.css'), 'text/css; charset=utf-8')],
    ['/assets/uplot.js', file(join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/assets/uplot.css', file(join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}

export interface DashboardDeps {
  readonly cluster: ClusterViewSources;
  readonly store: Pick<StateStore, 'series' | 'rollups'>;
  /** Runtime rules (absent without a cluster: the rules are the config file's, read-only). */
  readonly rules?: RuntimeRules;
  readonly configRules: () => readonly unknown[];
  readonly alertLog?: AlertLog;
  readonly subscriptions: Subscriptions;
  readonly logger: Logger;
}

/** One point of a chart: a closed minute of one series. */
interface Point {
  readonly t: number;
  readonly count: number;
  readonly mean: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly p95: number | null;
}

const finite = (x: number | undefined): number | null => (x === undefined || !Number.isFinite(x) ? null : x);

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

/**
 * The dashboard, on every node's HTTP server: the page (public: it holds no data) and the JSON it
 * reads with a viewer token: the cluster view, series and their per-minute points, the rules (changed
 * with an admin token), and a live stream of the cluster's alerts (Server-Sent Events, backed by the
 * same subscription as the gRPC Alerts service, so a reconnect with `since_id` misses nothing).
 */
export function dashboardRoutes(d: DashboardDeps): Route[] {
  const files = assets();
  const routes: Route[] = [...files].map(([path, f]) => ({
    method: 'GET' as const,
    path,
    access: 'public',
    handle: () =>
      Promise.resolve({
        status: 200,
        text: f.text,
        contentType: f.contentType,
        headers: { 'cache-control': 'no-cache' },
      }),
  }));
  routes.push(
    {
      method: 'GET',
      path: '/api/cluster',
      access: READ,
      handle: async () => json(200, { nodes: await clusterView(d.cluster), at: Date.now() }),
    },
    {
      method: 'GET',
      path: '/api/series',
      access: READ,
      handle: async () => json(200, { series: await d.store.series() }),
    },
    {
      method: 'GET',
      path: '/api/points',
      access: READ,
      handle: async ({ url }) => {
        const sensor = url.searchParams.get('sensor');
        const metric = url.searchParams.get('metric');
        const minutes = Number(url.searchParams.get('minutes') ?? '60');
        if (
          sensor === null ||
          metric === null ||
          !Number.isSafeInteger(minutes) ||
          minutes < 1 ||
          minutes > 10_080
        )
          return json(400, { errors: ['give sensor, metric and minutes (1 to 10080)'] });
        const to = Date.now();
        const records = await d.store.rollups(sensor, metric, to - minutes * 60_000, to);
        const points: Point[] = records.map((r) => {
          const v = finish(restoreAccumulator(r.acc), ['count', 'mean', 'min', 'max', 'p95'], 60_000);
          return {
            t: r.minute,
            count: v.count ?? 0,
            mean: finite(v.mean),
            min: finite(v.min),
            max: finite(v.max),
            p95: finite(v.p95),
          };
        });
        return json(200, { sensor, metric, points });
      },
    },
    {
      method: 'GET',
      path: '/api/rules',
      access: READ,
      handle: async () => {
        if (d.rules === undefined) return json(200, { editable: false, rules: d.configRules() });
        const { version, entries } = await d.rules.current();
        return json(200, {
          editable: true,
          version,
          rules: entries.map((e) => JSON.parse(e.specJson) as unknown),
        });
      },
    },
    {
      method: 'PUT',
      path: '/api/rules',
      access: WRITE_RULES,
      handle: async ({ body }) => {
        const rules = d.rules;
        if (rules === undefined)
          return json(409, { errors: ['rules are the config file’s on a node without a cluster'] });
        const text = await body();
        if (text === undefined) return json(413, { errors: ['the body is over 1 MiB'] });
        return ruleChange(async () => {
          const { rule, version } = await rules.set(text);
          return json(200, { id: rule.id, version });
        });
      },
    },
    {
      method: 'DELETE',
      path: /^\/api\/rules\/(?<id>[^/]+)$/,
      access: WRITE_RULES,
      handle: async ({ params }) => {
        const rules = d.rules;
        if (rules === undefined)
          return json(409, { errors: ['rules are the config file’s on a node without a cluster'] });
        const id = decodeURIComponent(params['id'] ?? '');
        return ruleChange(async () => {
          const version = await rules.delete(id);
          return version === undefined
            ? json(404, { errors: [`no rule "${id}"`] })
            : json(200, { id, version });
        });
      },
    },
    {
      method: 'GET',
      path: '/api/alerts',
      access: READ,
      handle: async ({ req, res, url }) => {
        if (d.alertLog === undefined) return json(409, { errors: ['this node reads no alert log'] });
        const since = sinceOf(url);
        if (typeof since === 'string') return json(400, { errors: [since] });
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        // An event per alert (its id is the resume point); a comment every 15 s keeps proxies open.
        const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        let ended = false;
        const writer: AlertWriter = {
          write: (a) => res.write(`id: ${a.id}\nevent: alert\ndata: ${JSON.stringify(a)}\n\n`),
          onDrain: (wake) => res.on('drain', wake),
          end: (error) => {
            clearInterval(keepAlive);
            if (ended) return;
            ended = true;
            if (error !== undefined) res.write(`event: end\ndata: ${JSON.stringify(error)}\n\n`);
            res.end();
          },
        };
        await AlertSubscription.open(
          {
            alertLog: d.alertLog,
            since,
            filter: { sensorIds: [], ruleIds: [], severities: [], labels: {} },
            writer,
            logger: d.logger,
            onClosed: (s) => {
              d.subscriptions.delete(s);
            },
          },
          (s) => {
            d.subscriptions.add(s);
            req.on('close', () => {
              ended = true;
              clearInterval(keepAlive);
              void s.close();
            });
          },
        );
        return undefined;
      },
    },
  );
  return routes;
}

/** A rule change's answer: 400 with the reason for an invalid rule, as the gRPC SetRule says it. */
async function ruleChange(work: () => Promise<Reply>): Promise<Reply> {
  try {
    return await work();
  } catch (err) {
    const e = toVigilError(err);
    return json(e.httpStatus, { errors: [e.message] });
  }
}
