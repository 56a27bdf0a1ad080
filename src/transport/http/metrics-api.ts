import { finish } from '../../core/aggregate.js';
import { describeJsonError } from '../../core/json-error.js';
import { planMetricsRequest } from '../../core/metrics-request.js';
import { tidy, tooLarge, type QuerySettings } from '../../core/rollup-query.js';
import { querySeries } from '../../engine/metrics-query.js';
import type { StateStore } from '../../ports/state-store.js';
import { bodyTooLarge, json, type Reply, type Route } from './server.js';

/** The role table's name for these endpoints (src/transport/grpc/auth.ts, METHOD_ROLES). */
export const METRICS_ENDPOINT = '/http/compute/metrics';

type RollupStore = Pick<StateStore, 'series' | 'rawMinutesKept' | 'rollups' | 'rawMinutes' | 'frequencies'>;

/**
 * Answers one request: 200 with results over exactly the interval asked (stated in the response with
 * its bounds, and `asOf`: readings checkpointed by then are counted), and errors, among them each way
 * the answer could not be exact; 400 when nothing valid was asked.
 */
async function compute(
  body: unknown,
  store: RollupStore,
  now: number,
  settings: QuerySettings,
): Promise<Reply> {
  const plan = planMetricsRequest(body, await store.series());
  if (!plan.ok) return json(400, { result: {}, errors: plan.errors });
  const { from, to } = plan;
  const large = tooLarge(
    plan.keys.reduce((n, k) => n + k.series.length, 0),
    from,
    to,
    settings,
  );
  if (large !== undefined) return json(400, { result: {}, errors: [...plan.errors, large] });
  const result: Record<string, Record<string, number | null>> = {};
  const notes = new Set<string>();
  for (const k of plan.keys) {
    const { acc, notes: keyNotes } = await querySeries(store, k.series, { from, to, now, settings });
    for (const n of keyNotes) notes.add(n);
    const values = finish(acc, [...new Set(k.functions.map(([, a]) => a))], to - from);
    result[k.key] = Object.fromEntries(k.functions.map(([name, a]) => [name, tidy(values[a])]));
  }
  const inclusive = plan.bounds === '[from, to]';
  const interval = {
    from: new Date(from).toISOString(),
    to: new Date(inclusive ? to - 1 : to).toISOString(),
    bounds: plan.bounds,
    asOf: new Date(now).toISOString(),
  };
  return json(200, { result, interval, errors: [...plan.errors, ...notes] });
}

/**
 * README, "Metrics API": `POST /compute/metrics`, window metrics over [from, to) (or [from, to]) to the
 * millisecond, from the rollups and the raw readings kept beside them (core/rollup-query.ts); `GET
 * /frequencies`, live events per second over the last minute per sensor and event type. Bearer token
 * with role viewer, as for the gRPC Query service.
 */
export function metricsApiRoutes(store: RollupStore, settings: QuerySettings): Route[] {
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
        return compute(body, store, Date.now(), settings);
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
