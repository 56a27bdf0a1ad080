import type { VigilConfig } from '../config/load.js';
import { VigilError } from '../core/errors.js';
import { startNode, type RunningNode } from '../node/node.js';
import type { Logger } from '../obs/logger.js';
import { exitIfStillRunning, untilSignal, within } from './process.js';

/** How long a node that cannot go on tries to leave the group and the membership before it exits. */
const FATAL_STOP_MS = 15_000;
/** How long a drain (final checkpoints, leaving) may take before the process exits anyway. */
const DRAIN_MS = 120_000;
/** How long a stopped process may keep running (unclosed handles) before it exits. */
const GRACE_MS = 5_000;

/**
 * `vigil node`: runs until SIGINT or SIGTERM (then drains: final checkpoints, leaves the group and the
 * membership), until DrainNode, or until it cannot go on. Crash-only: a node that cannot go on (its
 * consumer failed for good, a part failed to start) stops what it can, leaving the group and the
 * membership, and the process exits non-zero; it never stays up answering while consuming nothing.
 */
export async function runNode(config: VigilConfig, logger: Logger): Promise<void> {
  let fatal: Error | undefined;
  let wake: (why: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => {
    wake = resolve;
  });
  let node: RunningNode;
  try {
    node = await startNode(config, logger, {
      onFatal: (err) => {
        fatal = err;
        wake('fatal');
      },
      onDrained: () => {
        wake('drained through the Control service');
      },
    });
  } catch (err) {
    // What had started is stopped (node/parts.ts); the process must not linger.
    exitIfStillRunning(err instanceof VigilError && err.code === 'CONFIG_INVALID' ? 2 : 1, GRACE_MS, logger);
    throw err;
  }
  const why = await Promise.race([untilSignal(), ended]);
  if (fatal !== undefined) {
    logger.fatal({ err: fatal }, 'the node cannot go on: leaving the group and the cluster, then exiting');
    if ((await within(node.stop(), FATAL_STOP_MS)) === undefined) logger.error('stopping took too long');
    exitIfStillRunning(1, GRACE_MS, logger);
    throw new VigilError(`node stopped: ${fatal.message}`, { cause: fatal });
  }
  logger.info({ why }, 'stopping');
  untilSignal()
    .then(() => {
      logger.warn('a second signal: exiting without waiting for the drain');
      process.exit(1);
    })
    .catch(() => undefined);
  if ((await within(node.stop(), DRAIN_MS)) === undefined) {
    logger.error({ ms: DRAIN_MS }, 'the drain did not finish in time: exiting');
    exitIfStillRunning(1, 0, logger);
    return;
  }
  exitIfStillRunning(0, GRACE_MS, logger);
}
