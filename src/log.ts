import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * The process logger. pino replaces disabled levels with no-op functions, so a `debug` call on the hot
 * path costs one property lookup when debug is off. Child loggers carry fields (nodeId, partition, actor).
 */
export function createLogger(level: LevelWithSilent, bindings: Record<string, string> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
