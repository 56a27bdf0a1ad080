import { appendFile, mkdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLevel } from '../core/log-record.js';
import { Random } from './random.js';

const THREADS = ['main', 'http-nio-8080-exec-1', 'http-nio-8080-exec-2', 'scheduler-1', 'kafka-consumer'];
const LOGGERS = [
  'c.e.billing.Invoices',
  'c.e.api.Orders',
  'c.e.db.Pool',
  'c.e.auth.Tokens',
  'o.s.web.Dispatcher',
];
const MESSAGES: Readonly<Record<LogLevel, readonly string[]>> = {
  TRACE: ['entering handler', 'cache probe'],
  DEBUG: ['query took 3 ms', 'token refreshed', 'retrying idempotent call'],
  INFO: ['request served', 'invoice created', 'user logged in', 'batch committed'],
  WARN: ['slow query (1.2 s)', 'pool at 80%', 'deprecated endpoint called'],
  ERROR: ['payment failed', 'database connection refused', 'unexpected null in order'],
};

export interface LogGenOptions {
  /** Share of ERROR lines (0..1); the rest are spread over TRACE, DEBUG, INFO and WARN. */
  readonly errorRatio: number;
  readonly seed: number;
  /** Tag of this run, in every line's id: `id=<run>-<n>`. */
  readonly run: string;
  /** An ERROR line is followed by a 3-line stack trace this often (0..1). */
  readonly stackTraceRatio?: number;
}

/** One generated line (or record, with its stack trace), and what it is. */
export interface GeneratedLine {
  readonly id: string;
  readonly level: LogLevel;
  readonly ts: number;
  readonly text: string;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `HH:mm:ss.SSS` in UTC: logback's default layout's time. */
export function timeOfDay(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/**
 * Lines in logback's default layout, `HH:mm:ss.SSS [thread] LEVEL logger - message id=<run>-<n>`,
 * seeded: the same options give the same lines. Each carries its own id, so a test can count every
 * line that arrives downstream.
 */
export class LogLineGenerator {
  private readonly random: Random;
  private n = 0;

  constructor(private readonly o: LogGenOptions) {
    this.random = new Random(o.seed);
  }

  private level(): LogLevel {
    if (this.random.next() < this.o.errorRatio) return 'ERROR';
    const r = this.random.next();
    return r < 0.05 ? 'TRACE' : r < 0.2 ? 'DEBUG' : r < 0.9 ? 'INFO' : 'WARN';
  }

  private pick<T>(list: readonly T[]): T {
    return list[this.random.int(list.length)] as T;
  }

  next(ts: number): GeneratedLine {
    const level = this.level();
    const id = `${this.o.run}-${this.n++}`;
    const head = `${timeOfDay(ts)} [${this.pick(THREADS)}] ${level.padEnd(5)} ${this.pick(LOGGERS)} - ${this.pick(MESSAGES[level])} id=${id}`;
    const trace =
      level === 'ERROR' && this.random.next() < (this.o.stackTraceRatio ?? 0)
        ? '\njava.lang.IllegalStateException: boom\n\tat c.e.App.run(App.java:42)\n\tat java.lang.Thread.run(Thread.java:833)'
        : '';
    return { id, level, ts, text: head + trace };
  }
}

/**
 * Writes generated lines into `<dir>/<file>`, and rotates it the way logback's and logrotate's
 * policies do: `rotate()` renames the file to `<file>.1` (shifting older ones up to `keep`) and starts
 * a new one; `truncate()` empties it in place (logrotate's copytruncate, without the copy).
 */
export class LogFileWriter {
  constructor(
    readonly dir: string,
    readonly file = 'app.log',
    private readonly keep = 5,
  ) {}

  get path(): string {
    return join(this.dir, this.file);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async append(lines: readonly GeneratedLine[]): Promise<void> {
    if (lines.length === 0) return;
    await appendFile(this.path, lines.map((l) => `${l.text}\n`).join(''));
  }

  /** Appends bytes as they are: a partial line, the rest of one. */
  async appendRaw(text: string): Promise<void> {
    await appendFile(this.path, text);
  }

  async rotate(): Promise<void> {
    await rm(`${this.path}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
    }
    await rename(this.path, `${this.path}.1`).catch(() => undefined);
    await writeFile(this.path, '');
  }

  async truncate(): Promise<void> {
    await truncate(this.path, 0);
  }
}
