import type { Logger } from '../obs/logger.js';

/**
 * What a node has started, in order. Stopping goes in reverse, each part once: the normal shutdown,
 * a drain (which stops some parts early), and a start-up that failed half-way all use it, so a part
 * that fails to start never leaves the parts before it running (a process that cannot go on exits
 * with nothing left holding partitions, leases or sockets).
 */
export class StartedParts {
  private readonly parts: { readonly name: string; stop: (() => Promise<void>) | undefined }[] = [];

  constructor(private readonly logger: Logger) {}

  /** Records a started part and returns it. */
  add<T>(name: string, part: T, stop: (part: T) => Promise<void>): T {
    this.parts.push({ name, stop: () => stop(part) });
    return part;
  }

  /** Stops one part now (if it is still running); the later full stop skips it. */
  async stop(name: string): Promise<void> {
    const entry = this.parts.find((p) => p.name === name);
    const stop = entry?.stop;
    if (entry === undefined || stop === undefined) return;
    entry.stop = undefined;
    await stop();
  }

  /** Stops every part still running, last started first. A part that fails to stop is logged, not fatal. */
  async stopAll(): Promise<void> {
    for (const entry of [...this.parts].reverse()) {
      try {
        await this.stop(entry.name);
      } catch (err) {
        this.logger.warn({ err, part: entry.name }, 'stopping a part of the node failed');
      }
    }
  }
}

/** Runs a start-up; if it fails, stops whatever it had started, then throws its error. */
export async function startParts<T>(logger: Logger, start: (parts: StartedParts) => Promise<T>): Promise<T> {
  const parts = new StartedParts(logger);
  try {
    return await start(parts);
  } catch (err) {
    logger.error({ err }, 'start-up failed: stopping what had started');
    await parts.stopAll();
    throw err;
  }
}
