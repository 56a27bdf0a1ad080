import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exited } from '../support/node-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm run bench -- --quick` from end to end, as a smoke test: every benchmark runs against the real
 * stack and reports its figure. Nothing about speed is asserted (benchmarks measure; tests check
 * behaviour): only that each figure was produced, as a number.
 */
describe('benchmarks, quick mode', () => {
  it('runs every benchmark and writes every figure', { timeout: 900_000 }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'vigil-bench-')), 'bench.json');
    const child = spawn('npx', ['tsx', 'bench/run.ts', '--quick', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    expect(await exited(child)).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      quick: boolean;
      figures: { id: string; value: number }[];
    };
    expect(report.quick).toBe(true);
    const ids = report.figures.map((f) => f.id);
    expect(ids).toEqual([
      'engine.embedded',
      'limit.kafka',
      'kafka.1node',
      'kafka.3nodes',
      'limit.mqtt',
      'mqtt.ingest',
      'latency.2000',
      'memory.active.10000',
      'memory.idle.10000',
      'recovery.owned',
      'recovery.lag',
    ]);
    for (const f of report.figures) expect(Number.isFinite(f.value), f.id).toBe(true);
  });
});
