import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { acceptancePipeline } from '../support/acceptance.js';
import { uniquePrefix } from '../support/kafka.js';
import { writeConfig } from '../support/node-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `vigil node` from dist/ with `env` over the test's, until it exits; its code and stderr. */
function runNode(
  configFile: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), '-c', configFile, 'node'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => {
      resolve({ code, stderr });
    });
  });
}

/** A node that cannot serve what its config asks for exits with a reason; it never runs half-way. */
describe('crash-only node start', () => {
  const prefix = uniquePrefix('crash-only');
  const file = writeConfig(`${prefix}node`, {
    node: { id: `${prefix}n1` },
    kafka: { topicPrefix: prefix, groupId: `${prefix}engine` },
    redis: { keyPrefix: prefix },
    grpc: { listen: '127.0.0.1:0', insecure: true },
    pipeline: acceptancePipeline(),
  });

  it('exits 2 without a node= token, naming it, instead of running with no gRPC', async () => {
    const { code, stderr } = await runNode(file, {
      VIGIL_TOKENS: `admin=${randomBytes(16).toString('hex')}`,
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/VIGIL_TOKENS: needs a node=<token>/);
  });

  it('exits 2 when the config limits are more than a topic takes', async () => {
    const small = writeConfig(`${prefix}small`, {
      node: { id: `${prefix}n2` },
      kafka: { topicPrefix: `${prefix}small.`, groupId: `${prefix}engine` },
      redis: { keyPrefix: prefix },
      limits: { maxRecordBytes: 4_000_000 },
      pipeline: acceptancePipeline(),
    });
    const { code, stderr } = await runNode(small, {});
    expect(code).toBe(2);
    expect(stderr).toMatch(/max\.message\.bytes/);
  });
});
