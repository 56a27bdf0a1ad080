import type { NodeMetrics } from '../../obs/metrics.js';
import type { Route } from './server.js';

/** The role table's name for the Prometheus scrape (viewer; a scrape config sends the token). */
export const PROMETHEUS_ENDPOINT = '/http/metrics';

/** `GET /metrics`: the node's metrics in Prometheus' text exposition format. */
export function prometheusRoute(metrics: NodeMetrics, access: string): Route {
  return {
    method: 'GET',
    path: '/metrics',
    access,
    handle: async () => {
      const { contentType, text } = await metrics.exposition();
      return { status: 200, text, contentType };
    },
  };
}
