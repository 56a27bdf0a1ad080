import { status, type Server } from '@grpc/grpc-js';
import { AGGREGATES, finish, type AggregateName } from '../../core/aggregate.js';
import { tooLarge, type QuerySettings } from '../../core/rollup-query.js';
import { querySeries, type SeriesSource } from '../../engine/metrics-query.js';
import type { QueryHandlers } from '../../gen/vigil/v1/Query.js';
import type { WindowMetricsRequest__Output } from '../../gen/vigil/v1/WindowMetricsRequest.js';
import type { VigilGrpc } from './proto.js';

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
 * The Query service: window metrics of chosen sensors over [from, to), to the millisecond (see
 * core/rollup-query.ts); the answer says what it covered, and notes where it could not be exact.
 */
export function addQueryService(
  server: Server,
  grpc: VigilGrpc,
  store: SeriesSource,
  settings: QuerySettings,
): void {
  const handlers: QueryHandlers = {
    WindowMetrics: (call, callback) => {
      const v = validateWindowMetrics(call.request);
      if (!v.ok) {
        callback({ code: status.INVALID_ARGUMENT, details: v.details });
        return;
      }
      const large = tooLarge(
        call.request.sensorIds.length * call.request.metrics.length,
        v.from,
        v.to,
        settings,
      );
      if (large !== undefined) {
        callback({ code: status.INVALID_ARGUMENT, details: large });
        return;
      }
      const q = { from: v.from, to: v.to, now: Date.now(), settings };
      const notes = new Set<string>();
      const jobs = call.request.sensorIds.flatMap((sensorId) =>
        call.request.metrics.map(async (metric) => {
          const { acc, notes: seriesNotes } = await querySeries(store, [{ sensorId, metric }], q);
          for (const n of seriesNotes) notes.add(n);
          const values = finish(acc, v.aggregates, v.to - v.from);
          // NaN (no data) is left out: absent means "no value", count 0 says why.
          const finite: Record<string, number> = {};
          for (const [k, x] of Object.entries(values)) if (Number.isFinite(x)) finite[k] = x;
          return { sensorId, metric, values: finite };
        }),
      );
      Promise.all(jobs).then(
        (series) => {
          callback(null, {
            series,
            coveredFrom: String(v.from),
            coveredTo: String(v.to),
            notes: [...notes],
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
