import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { acceptancePipeline } from '../support/acceptance.js';
import { uniquePrefix } from '../support/kafka.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** cluster/nodes.sh: three node processes, status, a SIGKILL and a restart, then stop; one owner per partition throughout. */
describe('cluster scripts', () => {
  it(
    'bring up 3 nodes, show them, survive a kill and a restart, and stop them all',
    { timeout: 240_000 },
    async () => {
      const runDir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
      const prefix = uniquePrefix('cluster');
      const base = join(runDir, 'base.yaml');
      writeFileSync(
        base,
        stringify({
          log: { level: 'warn' },
          kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
          redis: { keyPrefix: prefix },
          pipeline: acceptancePipeline(),
        }),
      );
      const env = {
        ...process.env,
        VIGIL_RUN_DIR: runDir,
        VIGIL_CLUSTER_CONFIG: base,
        VIGIL_CLUSTER_BASE_PORT: String(17_400 + (process.pid % 500) * 4),
      };
      const nodes = (...args: string[]): string =>
        execFileSync('bash', [join(ROOT, 'cluster/nodes.sh'), ...args], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      const status = (): { id: string; partitions: string[] }[] => {
        const tokens = Object.fromEntries(
          readFileSync(join(runDir, 'cluster/tokens.env'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => l.split('=') as [string, string]),
        );
        const port = Number(env.VIGIL_CLUSTER_BASE_PORT) + 1;
        const out = execFileSync(
          'node',
          [
            'dist/cli/main.js',
            'status',
            '--json',
            '--node',
            `localhost:${port}`,
            '--ca',
            join(runDir, 'certs/ca.crt'),
            '--cert',
            join(runDir, 'certs/client.crt'),
            '--key',
            join(runDir, 'certs/client.key'),
          ],
          { cwd: ROOT, env: { ...env, VIGIL_TOKEN: tokens['VIGIL_VIEWER_TOKEN'] }, encoding: 'utf8' },
        );
        return (JSON.parse(out) as { nodes: { id: string; partitions: string[] }[] }).nodes;
      };
      const settle = async (ids: string[]): Promise<{ id: string; partitions: string[] }[]> => {
        for (let i = 0; i < 80; i++) {
          const s = status();
          const owned = s.flatMap((n) => n.partitions);
          if (
            s.map((n) => n.id).join() === ids.join() &&
            owned.length === 6 &&
            new Set(owned).size === 6 &&
            s.every((n) => n.partitions.length > 0)
          )
            return s;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`cluster did not settle on ${ids.join(', ')}: ${JSON.stringify(status())}`);
      };
      try {
        nodes('up', '3');
        const three = await settle(['node-1', 'node-2', 'node-3']);
        expect(three.flatMap((n) => n.partitions).sort()).toEqual(
          [0, 1, 2, 3, 4, 5].map((p) => `${prefix}vigil.readings:${p}`),
        );
        expect(nodes('status')).toContain('node-2');
        nodes('kill', '2', 'KILL');
        await settle(['node-1', 'node-3']);
        nodes('restart', '2');
        await settle(['node-1', 'node-2', 'node-3']);
      } finally {
        nodes('stop');
      }
      expect(() => nodes('status')).toThrow(/no node running/);
    },
  );
});
