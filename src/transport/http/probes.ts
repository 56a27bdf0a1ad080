import { json, type Route } from './server.js';

/**
 * Orchestrators' probes, without a token or a client certificate (a kubelet has neither): `GET /healthz/live` answers 200 while
 * the process serves; `GET /healthz/ready` 200 once the node is ready to work, else 503 with the
 * reasons (node/readiness.ts).
 */
export function probeRoutes(readiness: { reasons(): Promise<string[]> }): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz/live',
      access: 'probe',
      handle: () => Promise.resolve(json(200, { status: 'live' })),
    },
    {
      method: 'GET',
      path: '/healthz/ready',
      access: 'probe',
      handle: async () => {
        const reasons = await readiness.reasons();
        return reasons.length === 0
          ? json(200, { status: 'ready' })
          : json(503, { status: 'not ready', reasons });
      },
    },
  ];
}
