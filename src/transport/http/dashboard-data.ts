import { finish, restoreAccumulator } from '../../core/aggregate.js';
import { clusterView } from './cluster-view.js';
import { READ, type DashboardDeps } from './dashboard-deps.js';
import { json, type Reply, type Route } from './server.js';

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

/** The cluster view, the series, and the per-minute points of one series. */
export function dataRoutes(d: Pick<DashboardDeps, 'cluster' | 'store'>): Route[] {
  return [
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
    { method: 'GET', path: '/api/points', access: READ, handle: ({ url }) => points(d, url) },
  ];
}

async function points(d: Pick<DashboardDeps, 'store'>, url: URL): Promise<Reply> {
  const sensor = url.searchParams.get('sensor');
  const metric = url.searchParams.get('metric');
  const minutes = Number(url.searchParams.get('minutes') ?? '60');
  if (sensor === null || metric === null || !Number.isSafeInteger(minutes) || minutes < 1 || minutes > 10_080)
    return json(400, { errors: ['give sensor, metric and minutes (1 to 10080)'] });
  const to = Date.now();
  const records = await d.store.rollups(sensor, metric, to - minutes * 60_000, to);
  const list: Point[] = records.map((r) => {
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
  return json(200, { sensor, metric, points: list });
}
