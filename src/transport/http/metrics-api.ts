import { describeJsonError } from '../../core/json-error.js';
import { planMetricsRequest } from '../../core/metrics-request.js';
import { aggregateRollups, coveredInterval, tidy } from '../../core/rollup-query.js';
import type { StateStore } from '../../ports/state-store.js';
import { bodyTooLarge, json, type Reply, type Route } from './server.js';

/** The role table's name for these endpoints (src/transport/grpc/auth.ts, METHOD_ROLES). */
export const METRICS_ENDPOINT = '/http/compute/metrics';

type RollupStore = Pick<StateStore, 'series' | 'rollups' | 'frequencies'>;

/**
 * Answers one request: 200 with results, the interval answered (`[from, to)`, whole minutes) and
 * errors, each way the answer differs from what was asked among them; 400 when nothing valid was asked.
 */
async function compute(body: unknown, store: RollupStore, now: number): Promise<Reply> {
  const plan = planMetricsRequest(body, await store.series());
  if (!plan.ok) return json(400, { result: {}, errors: plan.errors });
  const covered = coveredInterval(plan.from, plan.to, now);
  const result: Record<string, Record<string, number | null>> = {};
  for (const k of plan.keys) {
    const records = (
      await Promise.all(k.series.map((s) => store.rollups(s.sensorId, s.metric, covered.from, covered.to)))
    ).flat();
    const values = aggregateRollups(
      records,
      [...new Set(k.functions.map(([, a]) => a))],
      covered.to - covered.from,
    );
    result[k.key] = Object.fromEntries(k.functions.map(([name, a]) => [name, tidy(values[a])]));
  }
  const interval = {
    from: new Date(covered.from).toISOString(),
    to: new Date(covered.to).toISOString(),
    bounds: '[from, to)',
  };
  return json(200, { result, interval, errors: [...plan.errors, ...covered.notes] });
}

/**
 * README, "Metrics API": `POST /compute/metrics`, window metrics from the Redis rollups, exact over
 * whole closed minutes (the response states the interval it answered, and says where it differs); `GET /frequencies`, live events per second over the last minute per sensor and event type.
 * Bearer token with role viewer, as for the gRPC Query service.
 */
export function metricsApiRoutes(store: RollupStore): Route[] {
  return [
    {
      method: 'POST',
      path: '/compute/metrics',
      access: METRICS_ENDPOINT,
      handle: async (ctx) => {
        const text = await ctx.body();
        if (text === undefined) return json(413, { result: {}, errors: [bodyTooLarge(ctx.maxBodyBytes)] });
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return json(400, { result: {}, errors: [describeJsonError(text)] });
        }
        return compute(body, store, Date.now());
      },
    },
    {
      method: 'GET',
      path: '/frequencies',
      access: METRICS_ENDPOINT,
      handle: async () => json(200, await store.frequencies(Math.floor(Date.now() / 1000), 60)),
    },
  ];
}
