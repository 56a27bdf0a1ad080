import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertStreamRoute } from './dashboard-alerts.js';
import { dataRoutes } from './dashboard-data.js';
import { ruleRoutes } from './dashboard-rules.js';
import type { DashboardDeps } from './dashboard-deps.js';
import type { Route } from './server.js';

export type { DashboardDeps } from './dashboard-deps.js';

/** The page and its scripts (every web/*.js: a module per panel), and uPlot (the charts) from its package. */
function assets(): Map<string, { text: Buffer; contentType: string }> {
  const web = fileURLToPath(new URL('../../../web/', import.meta.url));
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  const file = (path: string, contentType: string) => ({ text: readFileSync(path), contentType });
  return new Map([
    ['/', file(join(web, 'index.html'), 'text/html; charset=utf-8')],
    ...readdirSync(web)
      .filter((name) => name.endsWith('.js'))
      .map((name) => [`/assets/${name}`, file(join(web, name), 'text/javascript; charset=utf-8')] as const),
    ['/assets/style.css', file(join(web, 'style.css'), 'text/css; charset=utf-8')],
    ['/assets/uplot.js', file(join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/assets/uplot.css', file(join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}

/**
 * The dashboard, on every node's HTTP server: the page (public: it holds no data) and the JSON it
 * reads with a viewer token: the cluster view, series and their per-minute points, the rules (changed
 * with an admin token), and a live stream of the cluster's alerts (Server-Sent Events, backed by the
 * same subscription as the gRPC Alerts service, so a reconnect with `since_id` misses nothing).
 */
export function dashboardRoutes(d: DashboardDeps): Route[] {
  const files: Route[] = [...assets()].map(([path, f]) => ({
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
  return [...files, ...dataRoutes(d), ...ruleRoutes(d), alertStreamRoute(d)];
}
