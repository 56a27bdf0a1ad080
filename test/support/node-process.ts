import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_DIR = join(ROOT, '.run', 'test-nodes');

/** Writes a config file for a test node and returns its path. */
export function writeConfig(name: string, config: Record<string, unknown>): string {
  mkdirSync(RUN_DIR, { recursive: true });
  const file = join(RUN_DIR, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

/**
 * Starts `vigil <command>` (default `node`) from dist/ as a separate process, with VIGIL_NODE_ID =
 * `name`; its output goes to .run/test-nodes/<name>.log (logPath). `runtimeArgs` and VIGIL_NODE_ARGS
 * add arguments for Node.js itself (a heap cap; profiling a benchmark: `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export function startNodeProcess(
  name: string,
  configFile: string,
  command = 'node',
  runtimeArgs: readonly string[] = [],
): ChildProcess {
  const log = openSync(logPath(name), 'a');
  // As src/cli/main.ts's shebang starts it (README, "Runtime"), then the test's and the benchmark's own.
  const nodeArgs = [
    '--max-semi-space-size=16',
    ...runtimeArgs,
    ...(process.env['VIGIL_NODE_ARGS'] ?? '').split(' '),
  ].filter((a) => a !== '');
  return spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/cli/main.js'), '-c', configFile, command], {
    cwd: ROOT,
    stdio: ['ignore', log, log],
    env: { ...process.env, VIGIL_NODE_ID: name },
  });
}

export function logPath(name: string): string {
  return join(RUN_DIR, `${name}.log`);
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
}

/** Sum over partitions of the group's committed offsets, and of the topic's end offsets. */
export async function progress(
  kafka: Kafka,
  group: string,
  topic: string,
): Promise<{ committed: number; end: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const sum = (xs: readonly string[]): number => xs.reduce((a, o) => a + Math.max(0, Number(o)), 0);
    return {
      committed: sum(committed?.partitions.map((p) => p.offset) ?? []),
      end: sum(ends.map((p) => p.high)),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Polls until `predicate(progress)` holds; throws with the last progress on timeout. */
export async function waitForProgress(
  kafka: Kafka,
  group: string,
  topic: string,
  predicate: (p: { committed: number; end: number }) => boolean,
  timeoutMs: number,
): Promise<{ committed: number; end: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await progress(kafka, group, topic);
    if (predicate(p)) return p;
    if (Date.now() > deadline) throw new Error(`no progress in time: committed ${p.committed} of ${p.end}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
