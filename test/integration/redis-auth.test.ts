import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type VigilConfig } from '../../src/config/load.js';
import { connectRedis } from '../../src/transport/redis/connection.js';
import { RedisStateStore } from '../../src/transport/redis/state-store.js';
import { stateStoreContract } from '../contract/state-store.contract.js';
import { freePort } from '../support/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const password = randomBytes(16).toString('hex');
const certs = mkdtempSync(join(tmpdir(), 'vigil-redis-tls-'));
let server: ChildProcess | undefined;
let config: VigilConfig['redis'] | undefined;

/**
 * Redis as production runs it: TLS only (certificate from a CA we pass), and a password. A second
 * redis-server of its own, started here; the node's settings come from config plus environment.
 */
beforeAll(async () => {
  execFileSync('bash', [join(ROOT, 'cluster/certs.sh'), '--dir', certs, 'redis'], { stdio: 'ignore' });
  const port = await freePort();
  server = spawn(
    'redis-server',
    [
      ...['--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no'],
      ...['--tls-cert-file', join(certs, 'redis.crt'), '--tls-key-file', join(certs, 'redis.key')],
      ...['--tls-ca-cert-file', join(certs, 'ca.crt'), '--requirepass', password],
      ...['--save', '', '--appendonly', 'no'],
    ],
    { stdio: 'ignore' },
  );
  config = buildConfig(
    {
      redis: { url: `rediss://127.0.0.1:${port}`, tls: { ca: join(certs, 'ca.crt') } },
      pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
    },
    { VIGIL_REDIS_PASSWORD: password },
  ).redis;
  for (let i = 0; i < 50; i++) {
    const probe = connectRedis(config, { lazyConnect: true, retryStrategy: () => null });
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      probe.disconnect();
    }
  }
  throw new Error('the TLS redis-server did not come up');
});

afterAll(() => {
  server?.kill('SIGTERM');
});

const settings = (): VigilConfig['redis'] => {
  if (config === undefined) throw new Error('not set up');
  return config;
};

stateStoreContract(
  'Redis over TLS with a password',
  () => new RedisStateStore({ ...settings(), rollupTtlMs: 60_000, rawTtlMs: 60_000 }),
);

/** The first error the client reports while connecting (ioredis emits them as events). */
async function connectError(c: VigilConfig['redis']): Promise<Error> {
  const redis = connectRedis(c, { lazyConnect: true, retryStrategy: () => null });
  const failed = new Promise<Error>((resolve) => redis.once('error', resolve));
  try {
    await redis.connect().then(() => redis.ping());
  } catch {
    // the 'error' event carries the reason; the rejection only says the connection closed
  }
  redis.disconnect();
  return failed;
}

describe('Redis credentials', () => {
  it('refuses a client without the password', async () => {
    expect((await connectError({ ...settings(), password: undefined })).message).toMatch(/NOAUTH/);
  });

  it('refuses a server whose certificate is not from the configured CA', async () => {
    expect((await connectError({ ...settings(), tls: { rejectUnauthorized: true } })).message).toMatch(
      /self[- ]signed|unable to verify|certificate/i,
    );
  });
});
