import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './chaos/cluster.js';

/** The tokens cluster/nodes.sh wrote for its cluster (`VIGIL_VIEWER_TOKEN`, `VIGIL_ADMIN_TOKEN`). */
export function clusterTokens(runDir: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(join(runDir, 'cluster/tokens.env'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}

/**
 * A cluster as an operator runs it, with cluster/nodes.sh, in a run folder of its own and on ports of
 * its own: node I serves gRPC on `grpcBase + I` and HTTP on `grpcBase + 100 + I`. `portBase` and
 * `spread` keep test files (and concurrent runs, by pid) apart. The base config goes to
 * `env.VIGIL_CLUSTER_CONFIG`.
 */
export function scriptCluster(name: string, portBase: number, spread: number) {
  const runDir = mkdtempSync(join(tmpdir(), `vigil-${name}-`));
  const grpcBase = portBase + (process.pid % spread) * 4;
  const env = {
    ...process.env,
    VIGIL_RUN_DIR: runDir,
    VIGIL_CLUSTER_CONFIG: join(runDir, 'base.yaml'),
    VIGIL_CLUSTER_BASE_PORT: String(grpcBase),
  };
  const nodes = (...args: string[]): string =>
    execFileSync('bash', [join(ROOT, 'cluster/nodes.sh'), ...args], { cwd: ROOT, env, encoding: 'utf8' });
  return { runDir, grpcBase, env, nodes, tokens: () => clusterTokens(runDir) };
}
