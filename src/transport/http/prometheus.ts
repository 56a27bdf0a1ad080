import type { Route } from './server.js';

/** The role table's name for the Prometheus scrape (viewer; a scrape config sends the token). */
export const PROMETHEUS_ENDPOINT = '/http/metrics';

/** Metrics in Prometheus' text exposition format (a node's, a bridge's). */
export interface Exposition {
  exposition(): Promise<{ contentType: string; text: string }>;
}

/** `GET /metrics`: the process' metrics in Prometheus' text exposition format. */
export function prometheusRoute(metrics: Exposition, access: string): Route {
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
