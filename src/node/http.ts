import { querySettings, type VigilConfig } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { NodeRef } from '../ports/node-ref.js';
import type { AlertLog } from '../ports/record-log.js';
import type { StateStore } from '../ports/state-store.js';
import type { Subscriptions } from '../transport/alert-subscription.js';
import { TokenAuthority } from '../transport/auth.js';
import { dashboardRoutes } from '../transport/http/dashboard.js';
import { metricsApiRoutes } from '../transport/http/metrics-api.js';
import { probeRoutes } from '../transport/http/probes.js';
import { prometheusRoute, PROMETHEUS_ENDPOINT } from '../transport/http/prometheus.js';
import { startHttpServer, type Route, type RunningHttpServer } from '../transport/http/server.js';
import type { Membership } from '../transport/redis/membership.js';
import type { RuntimeRules } from '../transport/redis/runtime-rules.js';
import { readServerTls } from '../transport/tls.js';
import type { Readiness } from './readiness.js';

/** The HTTP API takes the same tokens as gRPC, and refuses to start without any. */
export function httpTokens(env: NodeJS.ProcessEnv): TokenAuthority {
  const spec = env['VIGIL_TOKENS'];
  if (spec === undefined || spec.trim() === '')
    throw new ConfigError(
      'VIGIL_TOKENS',
      'http.listen is set but no tokens are: set VIGIL_TOKENS="viewer=<token>,…"',
    );
  return TokenAuthority.parse(spec);
}

export interface NodeHttpParts {
  readonly listen: string;
  readonly config: VigilConfig;
  readonly tokens: TokenAuthority;
  readonly logger: Logger;
  readonly readiness: Readiness;
}

/**
 * The node's HTTP server, started before anything else with the probes only (they must answer while
 * the node joins the cluster); `serve(nodeRoutes(…))` adds the rest once the node is up.
 */
export function startNodeHttp(p: NodeHttpParts): Promise<RunningHttpServer> {
  return startHttpServer({
    listen: p.listen,
    tokens: p.tokens,
    limits: p.config.http,
    logger: componentLogger(p.logger, 'http'),
    routes: probeRoutes(p.readiness),
    starting: true,
    tls: p.config.httpTls === undefined ? undefined : readServerTls(p.config.httpTls),
  });
}

export interface NodeRouteParts {
  readonly config: VigilConfig;
  readonly logger: Logger;
  readonly engine: Engine;
  readonly store: StateStore;
  readonly metrics: NodeMetrics;
  readonly local: NodeRef;
  readonly membership: Membership | undefined;
  readonly rules: RuntimeRules | undefined;
  readonly remote: ((member: { id: string; address: string }) => NodeRef) | undefined;
  readonly alertLog: AlertLog;
  readonly subscriptions: Subscriptions;
}

/** The rest of the node's HTTP API: metrics API, Prometheus /metrics, the dashboard and its JSON. */
export function nodeRoutes(p: NodeRouteParts): Route[] {
  const { config, logger, membership } = p;
  return [
    ...metricsApiRoutes(p.store, querySettings(config)),
    prometheusRoute(p.metrics, config.httpMetricsPublic ? 'public' : PROMETHEUS_ENDPOINT),
    ...dashboardRoutes({
      cluster: {
        members: () => membership?.members() ?? Promise.resolve([]),
        local: p.local,
        ...(p.remote === undefined ? {} : { remote: p.remote }),
      },
      store: p.store,
      ...(p.rules === undefined ? {} : { rules: p.rules }),
      rulesInForce: () => p.engine.rules,
      sensorLabels: config.pipeline.sensorLabels,
      alertLog: p.alertLog,
      subscriptions: p.subscriptions,
      logger: componentLogger(logger, 'dashboard'),
    }),
  ];
}
