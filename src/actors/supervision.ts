import type { Logger } from '../obs/logger.js';
import { completionOf } from './ingest-messages.js';
import type { SupervisionCtx } from './nact.js';

/**
 * The policy of a level that gives up: log, fail the step the message belonged to (the partition
 * worker then resets the partition from its checkpoint), and stop the actor.
 */
export function escalate(logger: Logger, level: string) {
  return (msg: unknown, err: unknown, ctx: SupervisionCtx): symbol => {
    logger.error({ err, actor: ctx.path.toString() }, `${level} actor failed; escalating to the partition`);
    completionOf(msg)?.fail(err);
    return ctx.stop;
  };
}
