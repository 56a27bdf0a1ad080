import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '../../log.js';

const LEVELS: Readonly<Record<number, 'error' | 'warn' | 'info' | 'debug'>> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logging into pino, as structured fields, under component=kafkajs. */
function pinoLogCreator(logger: Logger): logCreator {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...fields } = entry;
      log[LEVELS[level] ?? 'info'](fields, message);
    };
}

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
}

export function createKafka(options: KafkaClientOptions, logger: Logger): Kafka {
  return new Kafka({
    brokers: [...options.brokers],
    clientId: options.clientId,
    // kafkajs' INFO level narrates every group join; WARN keeps the node's log about Vigil.
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
    retry: { initialRetryTime: 100, retries: 8 },
  });
}
