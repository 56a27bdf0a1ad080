import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  status,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/obs/logger.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { addControlService } from '../../src/transport/grpc/control-service.js';
import { LOADER_OPTIONS } from '../../src/transport/grpc/proto.js';
import { startGrpcServer, type RunningGrpcServer } from '../../src/transport/grpc/server.js';
import type { ControlClient } from '../../src/gen/vigil/v1/Control.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);
const adminToken = randomBytes(16).toString('hex');
const viewerToken = randomBytes(16).toString('hex');

function makeCerts(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-certs-'));
  execFileSync('bash', [join(ROOT, 'cluster/certs.sh'), '--dir', dir, ...names], { stdio: 'ignore' });
  return dir;
}

function bearer(token: string): Metadata {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

/** gRPC security on a real server over TLS: certificates, tokens and roles, health and reflection. */
describe('gRPC server security', () => {
  const certs = makeCerts(['node-1', 'client']);
  const rogue = makeCerts(['client']); // a client certificate from another CA
  let running: RunningGrpcServer;
  const crashed: string[] = [];
  const creds = (dir: string, name = 'client'): ChannelCredentials =>
    credentials.createSsl(
      readFileSync(join(certs, 'ca.crt')),
      readFileSync(join(dir, `${name}.key`)),
      readFileSync(join(dir, `${name}.crt`)),
    );
  let address = '';
  let Control: new (address: string, creds: ChannelCredentials) => ControlClient;

  beforeAll(async () => {
    running = await startGrpcServer(
      {
        address: '127.0.0.1:0',
        security: {
          tls: { ca: join(certs, 'ca.crt'), cert: join(certs, 'node-1.crt'), key: join(certs, 'node-1.key') },
        },
        tokens: TokenAuthority.parse(`admin=${adminToken},viewer=${viewerToken}`),
        logger: silentLogger,
      },
      (server, grpc) => {
        addControlService(server, grpc, {
          nodeId: 'node-1',
          members: () =>
            Promise.resolve([
              { id: 'node-1', address: '127.0.0.1:1', partitions: ['vigil.readings:0'], expiresAt: 1_000 },
              { id: 'node-2', address: '127.0.0.1:2', partitions: ['vigil.readings:1'], expiresAt: 2_000 },
            ]),
          ownerOf: () => Promise.resolve(undefined),
          expectSensors: () => Promise.resolve(),
          local: {
            nodeId: 'node-1',
            inspect: () => Promise.resolve(undefined),
            control: () => Promise.resolve(),
            listActors: () => Promise.resolve([]),
            partitions: () =>
              Promise.resolve([{ partition: 'vigil.readings:0', state: 'open', epoch: 3, offset: '42' }]),
            drain: () => Promise.reject(new Error('no drain in this test')),
            summary: () => Promise.reject(new Error('no summary in this test')),
            crash: (id) => {
              crashed.push(id);
              return Promise.resolve();
            },
          },
          remote: () => {
            throw new Error('no peers in this test');
          },
        });
      },
    );
    address = `localhost:${running.port}`;
    Control = running.grpc.vigil.v1.Control;
  });

  afterAll(async () => {
    await running.stop();
  });

  const call = <T>(
    client: ControlClient,
    method: 'listNodes' | 'crashActor',
    request: object,
    metadata = new Metadata(),
  ): Promise<T> =>
    new Promise((resolve, reject) => {
      (client[method] as (r: object, m: Metadata, cb: (e: ServiceError | null, v?: T) => void) => void)(
        request,
        metadata,
        (err, value) => {
          if (err !== null) reject(err);
          else resolve(value as T);
        },
      );
    });

  it('serves a viewer over mTLS', async () => {
    const client = new Control(address, creds(certs));
    const nodes = await call<{ nodes: object[] }>(client, 'listNodes', {}, bearer(viewerToken));
    expect(nodes.nodes).toEqual([
      { id: 'node-1', address: '127.0.0.1:1', partitions: ['vigil.readings:0'], leaseExpiresAt: '1000' },
      { id: 'node-2', address: '127.0.0.1:2', partitions: ['vigil.readings:1'], leaseExpiresAt: '2000' },
    ]);
    client.close();
  });

  it('refuses a call without a token: UNAUTHENTICATED, saying how to send one', async () => {
    const client = new Control(address, creds(certs));
    const err = await call(client, 'listNodes', {}).catch((e: unknown) => e as ServiceError);
    expect(err).toMatchObject({ code: status.UNAUTHENTICATED });
    expect((err as ServiceError).details).toContain('authorization: Bearer');
    await expect(call(client, 'listNodes', {}, bearer('not-a-known-token-at-all'))).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    client.close();
  });

  it('refuses a viewer calling an admin method: PERMISSION_DENIED, and the handler never runs', async () => {
    const client = new Control(address, creds(certs));
    await expect(call(client, 'crashActor', { sensorId: 'st-1' }, bearer(viewerToken))).rejects.toMatchObject(
      {
        code: status.PERMISSION_DENIED,
        details: '/vigil.v1.Control/CrashActor needs role admin; the token has role viewer',
      },
    );
    expect(crashed).toEqual([]);
    await call(client, 'crashActor', { sensorId: 'st-1' }, bearer(adminToken));
    expect(crashed).toEqual(['st-1']);
    client.close();
  });

  it('answers malformed arguments with INVALID_ARGUMENT and what is wrong', async () => {
    const client = new Control(address, creds(certs));
    await expect(call(client, 'crashActor', { sensorId: '' }, bearer(adminToken))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'sensor_id must be 1 to 256 characters without spaces',
    });
    client.close();
  });

  it('refuses clients without a certificate of the cluster CA', async () => {
    const noCert = new Control(address, credentials.createSsl(readFileSync(join(certs, 'ca.crt'))));
    await expect(call(noCert, 'listNodes', {}, bearer(viewerToken))).rejects.toMatchObject({
      code: status.UNAVAILABLE,
    });
    noCert.close();
    const foreign = new Control(address, creds(rogue));
    await expect(call(foreign, 'listNodes', {}, bearer(viewerToken))).rejects.toMatchObject({
      code: status.UNAVAILABLE,
    });
    foreign.close();
  });

  it('answers the standard health check with SERVING and lists its services through reflection', async () => {
    const health = loadPackageDefinition(loadSync(healthProtoPath, LOADER_OPTIONS)) as unknown as {
      grpc: {
        health: {
          v1: {
            Health: new (
              a: string,
              c: ChannelCredentials,
            ) => Client & {
              check(r: object, cb: (e: ServiceError | null, v?: { status: string }) => void): void;
            };
          };
        };
      };
    };
    const hc = new health.grpc.health.v1.Health(address, creds(certs));
    const check = (service: string) =>
      new Promise<{ status: string } | undefined>((resolve, reject) => {
        hc.check({ service }, (err, v) => {
          if (err !== null) reject(err);
          else resolve(v);
        });
      });
    // The server, and every service by its full name, as stock clients (grpc_health_probe -service) ask.
    for (const service of ['', 'vigil.v1.Control', 'vigil.v1.Alerts', 'vigil.v1.Query', 'vigil.v1.Remoting'])
      expect((await check(service))?.status).toBe('SERVING');
    await expect(check('vigil.v1.Nothing')).rejects.toMatchObject({ code: status.NOT_FOUND });
    hc.close();

    const reflectionProto = join(
      ROOT,
      'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
    );
    const reflection = loadPackageDefinition(loadSync(reflectionProto, LOADER_OPTIONS)) as unknown as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              a: string,
              c: ChannelCredentials,
            ) => Client & {
              serverReflectionInfo(): NodeJS.ReadWriteStream & { write(m: object): boolean; end(): void };
            };
          };
        };
      };
    };
    const rc = new reflection.grpc.reflection.v1.ServerReflection(address, creds(certs));
    const stream = rc.serverReflectionInfo();
    const services = await new Promise<string[]>((resolve, reject) => {
      stream.on('data', (r: { listServicesResponse?: { service: { name: string }[] } }) => {
        resolve(r.listServicesResponse?.service.map((s) => s.name) ?? []);
      });
      stream.on('error', reject);
      stream.write({ listServices: '' });
    });
    stream.end();
    rc.close();
    expect(services).toEqual(
      expect.arrayContaining([
        'vigil.v1.Control',
        'vigil.v1.Alerts',
        'vigil.v1.Query',
        'vigil.v1.Remoting',
        'grpc.health.v1.Health',
      ]),
    );
  });

  it('works with a stock gRPC client (buf curl) through reflection alone: services, health, a call', async () => {
    // buf knows nothing of Vigil: no .proto files, only what server reflection tells it.
    const bufPath = (
      await execFileAsync('bash', [join(ROOT, 'cluster/stock-client.sh')], { cwd: ROOT, encoding: 'utf8' })
    ).stdout.trim();
    const buf = async (...args: string[]): Promise<string> => {
      const { stdout } = await execFileAsync(
        bufPath,
        [
          'curl',
          '--protocol',
          'grpc',
          '--cacert',
          join(certs, 'ca.crt'),
          '--cert',
          join(certs, 'client.crt'),
          '--key',
          join(certs, 'client.key'),
          ...args,
        ],
        { cwd: ROOT, encoding: 'utf8' },
      );
      return stdout;
    };
    const base = `https://${address}`;
    const services = (await buf('--list-services', base)).trim().split('\n');
    expect(services).toEqual(
      expect.arrayContaining(['vigil.v1.Control', 'vigil.v1.Alerts', 'grpc.health.v1.Health']),
    );
    expect(JSON.parse(await buf(`${base}/grpc.health.v1.Health/Check`))).toEqual({ status: 'SERVING' });
    const listed = JSON.parse(
      await buf('-H', `authorization: Bearer ${viewerToken}`, `${base}/vigil.v1.Control/ListNodes`),
    ) as { nodes: { id: string }[] };
    expect(listed.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2']);
  });
});
