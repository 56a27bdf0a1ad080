import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Readiness } from '../../src/node/readiness.js';
import { silentLogger } from '../../src/obs/logger.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { startGrpcServer } from '../../src/transport/grpc/server.js';
import { probeRoutes } from '../../src/transport/http/probes.js';
import { startHttpServer } from '../../src/transport/http/server.js';

const LIMITS = {
  maxBodyBytes: 1_024,
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 1_000,
  maxConnections: 10,
};

describe('readiness', () => {
  it('says why not: the engine, Kafka or Redis not answering in time; and checks at most once a second', async () => {
    let engine: string | undefined = 'partitions not restored yet: vigil.readings:3';
    let calls = 0;
    const r = new Readiness(
      {
        engine: () => engine,
        kafka: () => {
          calls += 1;
          return new Promise(() => undefined); // never answers
        },
        store: () => Promise.reject(new Error('connection refused')),
      },
      50,
    );
    expect(await r.reasons()).toEqual([
      'partitions not restored yet: vigil.readings:3',
      'Kafka does not answer: no answer within 50 ms',
      'Redis does not answer: connection refused',
    ]);
    engine = undefined;
    await r.reasons();
    expect(calls).toBe(1); // the last answer, under a second old
  });
});

describe('probes', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('GET /healthz/live and /healthz/ready answer without a token: 503 with the reasons, then 200', async () => {
    let reasons = ['not in the consumer group yet'];
    const http = await startHttpServer({
      listen: '127.0.0.1:0',
      tokens: TokenAuthority.parse('viewer=viewer-token-0123456789'),
      routes: probeRoutes({ reasons: () => Promise.resolve(reasons) }),
      logger: silentLogger,
      limits: LIMITS,
    });
    stops.push(() => http.stop());
    const base = `http://127.0.0.1:${http.port}`;
    expect((await fetch(`${base}/healthz/live`)).status).toBe(200);
    const notYet = await fetch(`${base}/healthz/ready`);
    expect(notYet.status).toBe(503);
    expect(await notYet.json()).toEqual({ status: 'not ready', reasons: ['not in the consumer group yet'] });
    reasons = [];
    expect((await fetch(`${base}/healthz/ready`)).status).toBe(200);
  });

  it('gRPC health answers NOT_SERVING until the node is ready, SERVING then', async () => {
    let ready = false;
    const grpc = await startGrpcServer(
      {
        address: '127.0.0.1:0',
        security: { insecureDevelopmentOnly: true },
        tokens: TokenAuthority.parse('viewer=viewer-token-0123456789'),
        logger: silentLogger,
        ready: () => Promise.resolve(ready),
      },
      () => undefined,
    );
    stops.push(() => grpc.stop());
    const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as unknown as {
      grpc: {
        health: {
          v1: { Health: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => HealthClient };
        };
      };
    };
    interface HealthClient {
      check(
        req: { service: string },
        md: Metadata,
        cb: (err: ServiceError | null, res?: { status: string }) => void,
      ): void;
      close(): void;
    }
    const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    const md = new Metadata();
    md.set('authorization', 'Bearer viewer-token-0123456789');
    const status = (): Promise<string | undefined> =>
      new Promise((resolve, reject) => {
        client.check({ service: '' }, md, (err, res) => {
          if (err === null) resolve(res?.status);
          else reject(err);
        });
      });
    expect(await status()).toBe('NOT_SERVING');
    ready = true;
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(await status()).toBe('SERVING');
    client.close();
  });
});
