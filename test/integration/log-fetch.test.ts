import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/core/log-record.js';
import { RedisSourceStore } from '../../src/transport/redis/source-store.js';
import { LogFileWriter, LogLineGenerator, type GeneratedLine } from '../../src/sim/loggen.js';
import { prepareKafka } from '../support/kafka-run.js';
import { collectUntil, json, uniquePrefix, type Collected } from '../support/kafka.js';
import { exited, startNodeProcess, writeConfig } from '../support/node-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Log fetching on the real stack: two node processes share one log source through its lease. Lines
 * are appended, written in halves, rotated (rename, then a new file) and truncated, and the node that
 * fetches the source is SIGKILLed in the middle; the other takes the source over from its
 * checkpoint. Every line reaches vigil.logs exactly once, counted by the ids the generator wrote.
 */
describe('log fetchers', () => {
  const children: ChildProcess[] = [];
  const prefix = uniquePrefix('logs');
  const dir = join(ROOT, '.run', 'test-logs', prefix);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'deliver every line once across appends, rotation, truncation and a SIGKILL of the fetching node',
    { timeout: 240_000 },
    async () => {
      mkdirSync(dir, { recursive: true });
      const raw = {
        log: { level: 'info' },
        kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
        redis: { keyPrefix: prefix },
        checkpoint: { interval: '500ms' },
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        logs: { sources: [{ id: 'app', dir }], pollInterval: '100ms', lease: '3s' },
      };
      const file = writeConfig(`${prefix}logs`, raw);
      const { config, kafka } = await prepareKafka(raw, []);
      const writer = new LogFileWriter(dir);
      await writer.init();
      const gen = new LogLineGenerator({ errorRatio: 0.05, seed: 5, run: 'k', stackTraceRatio: 0.3 });
      const written: string[] = [];
      const write = async (n: number): Promise<void> => {
        const lines: GeneratedLine[] = Array.from({ length: n }, () => gen.next(Date.now()));
        written.push(...lines.map((l) => l.id));
        await writer.append(lines);
      };
      const logsTopic = config.kafka.topics.logs;
      const idsOf = (rs: readonly Collected[]): string[] =>
        rs
          .filter((r) => r.topic === logsTopic)
          .map((r) => /id=(\S+)/.exec((json(r) as LogRecord).message)?.[1] ?? '?');
      const caughtUp = () =>
        collectUntil(kafka, [logsTopic], (rs) => new Set(idsOf(rs)).size >= written.length, {
          timeoutMs: 60_000,
          settleMs: 0,
        });

      const names = [`${prefix}node-a`, `${prefix}node-b`];
      const nodes = new Map(names.map((n) => [n, startNodeProcess(n, file)]));
      children.push(...nodes.values());
      const sources = new RedisSourceStore({ ...config.redis });
      try {
        await write(200);
        let owner: string | undefined;
        for (let i = 0; i < 200 && owner === undefined; i++) {
          owner = await sources.owner('app');
          await sleep(100);
        }
        if (owner === undefined) throw new Error('no node took the log source');
        await caughtUp();

        // Appends, a line in two halves, and a rotation while the owner is killed.
        for (let round = 0; round < 10; round++) {
          await write(40);
          if (round === 3) {
            const half = gen.next(Date.now());
            written.push(half.id);
            await writer.appendRaw(half.text.slice(0, 25));
            await sleep(300);
            await writer.appendRaw(`${half.text.slice(25)}\n`);
          }
          if (round === 5) await writer.rotate();
          if (round === 6) nodes.get(owner)?.kill('SIGKILL');
          await sleep(150);
        }
        let next: string | undefined;
        for (let i = 0; i < 200; i++) {
          next = await sources.owner('app');
          if (next !== undefined && next !== owner) break;
          await sleep(100);
        }
        expect(next).toBeDefined();
        expect(next).not.toBe(owner);
        await caughtUp();

        // Truncation in place once everything was read (logrotate's copytruncate), then more lines.
        await writer.truncate();
        await write(60);
        await writer.rotate();
        await write(30);

        const records = await collectUntil(
          kafka,
          [logsTopic],
          (rs) => new Set(idsOf(rs)).size >= written.length,
          { timeoutMs: 60_000, settleMs: 3_000 },
        );
        const ids = idsOf(records);
        const counts = new Map<string, number>();
        for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
        expect([...counts].filter(([, n]) => n > 1)).toEqual([]); // nothing twice
        expect(new Set(ids)).toEqual(new Set(written)); // nothing lost, nothing foreign
        expect(ids).toHaveLength(written.length);
        const stacks = records.filter((r) => (json(r) as LogRecord).message.includes('\tat c.e.App.run'));
        expect(stacks.length).toBeGreaterThan(0);
      } finally {
        await sources.close();
      }
    },
  );
});
