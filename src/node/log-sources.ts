import type { LogSourceConfig, VigilConfig } from '../config/load.js';
import { LogFetchers } from '../actors/log-fetchers.js';
import { startSystem } from '../actors/nact.js';
import { componentLogger, type Logger } from '../obs/logger.js';
import type { NodeMetrics } from '../obs/metrics.js';
import type { SourceLease, SourceStore } from '../ports/source-store.js';
import type { SourceWriter } from '../ports/source-writer.js';
import { LogFetcher } from '../transport/files/log-fetcher.js';

/**
 * Starts the fetchers of the configured log sources (none configured: none started). Each source's
 * writes use their own transactional id, derived from the logs topic so test runs never share one.
 */
export function startFetchers(
  config: VigilConfig,
  logger: Logger,
  store: SourceStore,
  sourceWriter: (source: LogSourceConfig) => SourceWriter,
  metrics?: NodeMetrics,
): LogFetchers | undefined {
  const { logs } = config;
  if (logs.sources.length === 0) return undefined;
  const logsLogger = componentLogger(logger, 'logs');
  return new LogFetchers(startSystem(), {
    nodeId: config.nodeId,
    sources: logs.sources,
    leaseMs: logs.leaseMs,
    pollIntervalMs: logs.pollIntervalMs,
    store,
    logger: logsLogger,
    fetcher: (source: LogSourceConfig, lease: SourceLease) =>
      new LogFetcher(
        {
          source,
          topics: { logs: config.kafka.topics.logs, dlq: config.kafka.topics.dlq },
          maxLineBytes: logs.maxLineBytes,
          idleTimeoutMs: logs.idleTimeoutMs,
          multilineTimeoutMs: logs.multilineTimeoutMs,
        },
        {
          store,
          writer: sourceWriter(source),
          lease,
          logger: logsLogger.child({ source: source.id }),
          ...(metrics === undefined ? {} : { metrics }),
        },
      ),
  });
}
