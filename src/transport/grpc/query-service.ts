import { status, type Server } from '@grpc/grpc-js';
import { AGGREGATES, type AggregateName } from '../../core/aggregate.js';
import type { RollupRecord } from '../../core/outputs.js';
import { aggregateRollups, coveredInterval } from '../../core/rollup-query.js';
import type { QueryHandlers } from '../../gen/vigil/v1/Query.js';
import type { WindowMetricsRequest__Output } from '../../gen/vigil/v1/WindowMetricsRequest.js';
import type { VigilGrpc } from './proto.js';

/** Where the closed minutes come from (the state store's Redis rollups). */
export type RollupSource = (
  sensorId: string,
  metric: string,
  from: number,
  to: number,
) => Promise<RollupRecord[]>;

const MAX_SERIES = 10_000;
const KNOWN = new Set<string>(AGGREGATES);

export type Validated =
  { ok: true; from: number; to: number; aggregates: AggregateName[] } | { ok: false; details: string };

/** Checks a WindowMetrics request; the message says what is wrong and how to fix it. */
export function validateWindowMetrics(r: WindowMetricsRequest__Output): Validated {
  const from = Number(r.from);
  const to = Number(r.to);
  if (r.sensorIds.length === 0)
    return { ok: false, details: 'sensor_ids is empty: name at least one sensor' };
  if (r.metrics.length === 0)
    return { ok: false, details: 'metrics is empty: name at least one metric, e.g. temperature' };
  if (r.sensorIds.length * r.metrics.length > MAX_SERIES) {
    return {
      ok: false,
      details: `${r.sensorIds.length * r.metrics.length} series asked; at most ${MAX_SERIES} per request`,
    };
  }
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0) {
    return { ok: false, details: 'from and to must be epoch milliseconds' };
  }
  if (from >= to)
    return { ok: false, details: `the range is empty or reversed: from ${from} is not before to ${to}` };
  const unknown = r.aggregates.filter((a) => !KNOWN.has(a));
  if (unknown.length > 0) {
    return {
      ok: false,
      details: `unknown aggregate(s) ${unknown.join(', ')}; known: ${AGGREGATES.join(', ')}`,
    };
  }
  const aggregates = (r.aggregates.length === 0 ? [...AGGREGATES] : r.aggregates) as AggregateName[];
  return { ok: true, from, to, aggregates };
}

/**
 * The Query service: window metrics of chosen sensors over [from, to) in whole closed minutes; the
 * answer says what it covered and where that differs from the request.
 */
export function addQueryService(server: Server, grpc: VigilGrpc, rollups: RollupSource): void {
  const handlers: QueryHandlers = {
    WindowMetrics: (call, callback) => {
      const v = validateWindowMetrics(call.request);
      if (!v.ok) {
        callback({ code: status.INVALID_ARGUMENT, details: v.details });
        return;
      }
      const covered = coveredInterval(v.from, v.to, Date.now());
      const jobs = call.request.sensorIds.flatMap((sensorId) =>
        call.request.metrics.map(async (metric) => {
          const records = await rollups(sensorId, metric, covered.from, covered.to);
          const values = aggregateRollups(records, v.aggregates, covered.to - covered.from);
          // NaN (no data) is left out: absent means "no value", count 0 says why.
          const finite = Object.fromEntries(Object.entries(values).filter(([, x]) => Number.isFinite(x)));
          return { sensorId, metric, values: finite };
        }),
      );
      Promise.all(jobs).then(
        (series) => {
          callback(null, {
            series,
            coveredFrom: String(covered.from),
            coveredTo: String(covered.to),
            notes: covered.notes,
          });
        },
        (err: unknown) => {
          callback({
            code: status.UNAVAILABLE,
            details: `reading the rollups failed: ${(err as Error).message}`,
          });
        },
      );
    },
  };
  server.addService(grpc.vigil.v1.Query.service, handlers);
}
