import { LogFileWriter, LogLineGenerator, type GeneratedLine } from '../sim/loggen.js';

export interface LogGenCommandOptions {
  readonly dir: string;
  readonly file: string;
  readonly rate: number;
  readonly errorRatio: number;
  readonly stackTraces: number;
  readonly duration?: number;
  readonly count?: number;
  readonly rotateEvery?: number;
  readonly keep: number;
  readonly truncateEvery?: number;
  readonly seed: number;
  readonly run: string;
}

const TICK_MS = 50;

/**
 * `vigil loggen`: lines at a steady rate (every tick, what the rate says is due by now), rotating or
 * truncating every so many lines, with a progress line a second. Stops at --count, --duration, or
 * SIGINT/SIGTERM.
 */
export async function runLogGen(o: LogGenCommandOptions, progress: (line: string) => void): Promise<void> {
  const writer = new LogFileWriter(o.dir, o.file, o.keep);
  await writer.init();
  const gen = new LogLineGenerator({
    errorRatio: o.errorRatio,
    seed: o.seed,
    run: o.run,
    stackTraceRatio: o.stackTraces,
  });
  // An object, so the loop re-reads it after every await (a signal sets it meanwhile).
  const run = { stopped: false };
  const onSignal = (): void => {
    run.stopped = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  progress(`loggen: ${o.rate} lines/s into ${writer.path} (ids id=${o.run}-<n>); Ctrl-C stops`);
  const started = Date.now();
  let written = 0;
  let errors = 0;
  let rotations = 0;
  let truncations = 0;
  let lastProgress = started;
  try {
    while (!run.stopped) {
      const now = Date.now();
      const elapsed = now - started;
      if (o.duration !== undefined && elapsed >= o.duration) break;
      if (o.count !== undefined && written >= o.count) break;
      let due = Math.floor((elapsed / 1000) * o.rate) - written;
      if (o.count !== undefined) due = Math.min(due, o.count - written);
      const batch: GeneratedLine[] = [];
      for (let i = 0; i < due; i++) {
        const line = gen.next(now);
        batch.push(line);
        if (line.level === 'ERROR') errors++;
        const n = written + i + 1;
        const rotate = o.rotateEvery !== undefined && n % o.rotateEvery === 0;
        const truncate = o.truncateEvery !== undefined && n % o.truncateEvery === 0;
        if (rotate || truncate) {
          await writer.append(batch.splice(0));
          if (rotate) {
            await writer.rotate();
            rotations++;
          } else {
            await writer.truncate();
            truncations++;
          }
        }
      }
      await writer.append(batch);
      written += due;
      if (now - lastProgress >= 1_000) {
        lastProgress = now;
        progress(
          `  ${written} lines (${errors} ERROR) in ${Math.round(elapsed / 1000)}s, ${rotations} rotations, ${truncations} truncations`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  progress(
    `loggen done: ${written} lines (${errors} ERROR), ${rotations} rotations, ${truncations} truncations`,
  );
}
