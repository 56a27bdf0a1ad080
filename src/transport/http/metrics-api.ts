import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import { planMetricsRequest } from '../../core/metrics-request.js';
import { aggregateRollups, minuteRange } from '../../core/rollup-query.js';
import { VigilError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { StateStore } from '../../state/store.js';
import type { TokenAuthority } from '../grpc/auth.js';

/** The role table's name for this endpoint (src/transport/grpc/auth.ts, METHOD_ROLES). */
export const METRICS_ENDPOINT = '/http/compute/metrics';
const MAX_BODY = 1024 * 1024;

/** gRPC verdicts of the shared token table -> HTTP statuses. */
const HTTP_FOR_STATUS: Readonly<Partial<Record<status, number>>> = {
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
};

export interface MetricsApiOptions {
  readonly listen: string;
  readonly tokens: TokenAuthority;
  readonly store: Pick<StateStore, 'series' | 'rollups' | 'frequencies'>;
  readonly logger: Logger;
}

export interface RunningMetricsApi {
  readonly port: number;
  stop(): Promise<void>;
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** Answers one request: 200 with results and errors, 400 when nothing valid was asked. */
async function compute(body: unknown, store: MetricsApiOptions['store']): Promise<[number, unknown]> {
  const plan = planMetricsRequest(body, await store.series());
  if (!plan.ok) return [400, { result: {}, errors: plan.errors }];
  const { fromMinute, to } = minuteRange(plan.from, plan.to);
  const result: Record<string, Record<string, number | null>> = {};
  for (const k of plan.keys) {
    const records = (
      await Promise.all(k.series.map((s) => store.rollups(s.sensorId, s.metric, fromMinute, to)))
    ).flat();
    const values = aggregateRollups(records, [...new Set(k.functions.map(([, a]) => a))], to - fromMinute);
    result[k.key] = Object.fromEntries(k.functions.map(([name, a]) => [name, values[a] ?? null]));
  }
  return [200, { result, errors: plan.errors }];
}

/**
 * On every node (README, "Metrics API"): `POST /compute/metrics`, window metrics from the Redis
 * rollups, exact to the minute; `GET /frequencies`, live events per second over the last minute per
 * sensor and event type. Bearer token with role viewer, as for the gRPC Query service.
 */
export async function startMetricsApi(o: MetricsApiOptions): Promise<RunningMetricsApi> {
  const handle = async (req: IncomingMessage): Promise<[number, unknown]> => {
    const path = req.url?.split('?')[0];
    const endpoint = path === '/compute/metrics' ? 'POST' : path === '/frequencies' ? 'GET' : undefined;
    if (endpoint === undefined)
      return [404, { errors: ['no such endpoint: POST /compute/metrics or GET /frequencies'] }];
    if (req.method !== endpoint) return [405, { errors: [`use ${endpoint}`] }];
    const verdict = o.tokens.authorize(METRICS_ENDPOINT, req.headers.authorization);
    if (!verdict.ok) return [HTTP_FOR_STATUS[verdict.code] ?? 403, { errors: [verdict.details] }];
    if (endpoint === 'GET') return [200, await o.store.frequencies(Math.floor(Date.now() / 1000), 60)];
    const text = await readBody(req);
    if (text === undefined) return [413, { result: {}, errors: [`the body is over ${MAX_BODY} bytes`] }];
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return [400, { result: {}, errors: [`the body is not valid JSON: ${(err as Error).message}`] }];
    }
    return compute(body, o.store);
  };
  const server = createServer((req, res) => {
    handle(req).then(
      ([code, answer]) => {
        reply(res, code, answer);
      },
      (err: unknown) => {
        o.logger.warn({ err }, 'metrics request failed');
        if (!res.headersSent)
          reply(res, 503, { result: {}, errors: [`the rollups cannot be read now: ${String(err)}`] });
      },
    );
  });
  const [host, port] = [
    o.listen.slice(0, o.listen.lastIndexOf(':')),
    Number(o.listen.slice(o.listen.lastIndexOf(':') + 1)),
  ];
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new VigilError(`cannot listen on ${o.listen}: ${err.message}`, { code: 'HTTP_BIND', cause: err }),
      );
    });
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  o.logger.info({ address: o.listen, port: bound }, 'metrics API listening');
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
