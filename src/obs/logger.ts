import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Where a root logger keeps the per-component levels; children inherit it (pino children are prototypes of their parent). */
const COMPONENT_LEVELS = Symbol('vigil.componentLevels');

type WithLevels = Logger & { readonly [COMPONENT_LEVELS]?: Readonly<Record<string, LevelWithSilent>> };

/**
 * The process logger. pino replaces disabled levels with no-op functions, so a `debug` call on the hot
 * path costs one property lookup when debug is off. Child loggers carry fields (nodeId, partition,
 * actor, source). `components` sets a level per component (config `log.components`), so one part of
 * a node can log at debug while the rest stays at info.
 */
export function createLogger(
  level: LevelWithSilent,
  bindings: Record<string, string> = {},
  components: Readonly<Record<string, LevelWithSilent>> = {},
): Logger {
  const logger = pino({ level, base: { pid: process.pid, ...bindings } });
  Object.defineProperty(logger, COMPONENT_LEVELS, { value: { ...components } });
  return logger;
}

/** The level configured for `component`, if any. */
export function componentLevel(logger: Logger, component: string): LevelWithSilent | undefined {
  return (logger as WithLevels)[COMPONENT_LEVELS]?.[component];
}

/** A child logger of one component (`component` field), at the component's own level when it has one. */
export function componentLogger(
  parent: Logger,
  component: string,
  bindings: Record<string, unknown> = {},
): Logger {
  const level = componentLevel(parent, component);
  return parent.child({ component, ...bindings }, level === undefined ? {} : { level });
}

export const silentLogger: Logger = pino({ level: 'silent' });
