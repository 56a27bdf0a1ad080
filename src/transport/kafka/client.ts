import { Kafka, logLevel, type LogEntry, type logCreator, type SASLOptions } from 'kafkajs';
import type { TlsFiles, VigilConfig } from '../../config/load.js';
import { componentLevel, componentLogger, type Logger } from '../../obs/logger.js';
import { clientTlsOptions } from '../tls.js';
import { registerCodecs } from './codecs.js';

const LEVELS: Readonly<Record<number, 'error' | 'warn' | 'info' | 'debug'>> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * What kafkajs logs at error level during a normal start or rebalance, and retries by itself: the
 * group coordinator still loading, a rebalance under way, a partition leader moving. Logged at debug:
 * an operator's console shows errors that need someone, not the weather.
 */
const ROUTINE_ERRORS: readonly RegExp[] = [
  /coordinator is loading/i,
  /coordinator is not available/i,
  /not the correct coordinator/i,
  /group is rebalancing/i,
  /no leader for this topic-partition/i,
  /not the leader for (that|this) topic-partition/i,
];

function isRoutine(entry: LogEntry['log']): boolean {
  const error = (entry as { error?: unknown }).error;
  const text = `${entry.message} ${typeof error === 'string' ? error : ''}`;
  return ROUTINE_ERRORS.some((r) => r.test(text));
}

/** Routes kafkajs' own logging into pino, as structured fields, under component=kafkajs. */
export function pinoLogCreator(logger: Logger): logCreator {
  const log = componentLogger(logger, 'kafkajs');
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...fields } = entry;
      const to = level <= logLevel.WARN && isRoutine(entry) ? 'debug' : (LEVELS[level] ?? 'info');
      log[to](fields, message);
    };
}

/** pino levels -> kafkajs' own filter (kafkajs has no trace, fatal or silent). */
const KAFKAJS_LEVEL: Readonly<Record<string, logLevel>> = {
  trace: logLevel.DEBUG,
  debug: logLevel.DEBUG,
  info: logLevel.INFO,
  warn: logLevel.WARN,
  error: logLevel.ERROR,
  fatal: logLevel.ERROR,
  silent: logLevel.NOTHING,
};

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** limits.maxDecompressedBatchBytes: what one record batch may decompress to (default 64 MiB). */
  readonly maxDecompressedBatchBytes?: number;
  readonly tls?: TlsFiles | undefined;
  readonly sasl?: VigilConfig['kafka']['sasl'];
}

/** kafkajs' SASL options: one variant per mechanism, so the union is built case by case. */
function saslOptions(s: NonNullable<KafkaClientOptions['sasl']>): SASLOptions {
  const { username, password } = s;
  switch (s.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** The default of limits.maxDecompressedBatchBytes. */
const MAX_DECOMPRESSED_BATCH_BYTES = 64 * 1024 * 1024;

/** A Kafka client that reads every codec (gzip, snappy, lz4, zstd: see codecs.ts). */
export function createKafka(options: KafkaClientOptions, logger: Logger): Kafka {
  registerCodecs(options.maxDecompressedBatchBytes ?? MAX_DECOMPRESSED_BATCH_BYTES);
  return new Kafka({
    brokers: [...options.brokers],
    clientId: options.clientId,
    // kafkajs' INFO level narrates every group join; WARN keeps the node's log about Vigil, unless
    // log.components.kafkajs asks for more.
    logLevel: KAFKAJS_LEVEL[componentLevel(logger, 'kafkajs') ?? 'warn'] ?? logLevel.WARN,
    logCreator: pinoLogCreator(logger),
    retry: { initialRetryTime: 100, retries: 8 },
    ...(options.tls === undefined ? {} : { ssl: clientTlsOptions(options.tls) }),
    ...(options.sasl === undefined ? {} : { sasl: saslOptions(options.sasl) }),
  });
}

/**
 * Whether the brokers answer (a readiness probe): a metadata request through one admin client,
 * connected on first use and again after a failure.
 */
export function kafkaProbe(kafka: Kafka): { check: () => Promise<void>; close: () => Promise<void> } {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  return {
    check: async () => {
      connected ??= admin.connect().catch((err: unknown) => {
        connected = undefined;
        throw err;
      });
      await connected;
      await admin.describeCluster();
    },
    close: async () => {
      if (connected !== undefined) await admin.disconnect();
    },
  };
}
