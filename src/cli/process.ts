import type { Logger } from '../obs/logger.js';

/** Calls `handler` on the first SIGINT or SIGTERM; the returned function removes the listeners. */
export function onFirstSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    dispose();
    handler(signal);
  };
  const dispose = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return dispose;
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => onFirstSignal(resolve));
}

/** `work`, or undefined once `ms` passed without it settling (it is left to finish or not). */
export async function within<T>(work: Promise<T>, ms: number): Promise<{ done: T } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([work.then((done) => ({ done })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Crash-only: a process that has stopped its work must end. Once everything is closed the event loop
 * empties and the process ends by itself; if something still holds it `graceMs` later (a socket a
 * library did not close), this says what (by name, not hidden) and exits with `code`. The timer is
 * unref'd: it never keeps the process alive by itself.
 */
export function exitIfStillRunning(code: number, graceMs: number, logger: Logger): void {
  process.exitCode = code;
  setTimeout(() => {
    logger.error(
      { code, handles: process.getActiveResourcesInfo() },
      'still running after stopping: exiting (the handles listed were not closed)',
    );
    process.exit(code);
  }, graceMs).unref();
}
