import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertId } from '../../src/core/alert-id.js';
import type { Alert } from '../../src/core/outputs.js';
import type { AlertsClient } from '../../src/gen/vigil/v1/Alerts.js';
import type { Alert__Output } from '../../src/gen/vigil/v1/Alert.js';
import type { SubscribeRequest } from '../../src/gen/vigil/v1/SubscribeRequest.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { silentLogger } from '../../src/obs/logger.js';
import { Subscriptions } from '../../src/transport/alert-subscription.js';
import { addAlertsService, type AlertsService } from '../../src/transport/grpc/alerts-service.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { startGrpcServer, type RunningGrpcServer } from '../../src/transport/grpc/server.js';

const TOPIC = 'vigil.alerts';
const viewer = randomBytes(16).toString('hex');
const other = randomBytes(16).toString('hex');

function alert(n: number): Alert {
  const sensorId = `st-${n % 7}`;
  return {
    id: alertId('hot', sensorId, n, 'firing'),
    ruleId: 'hot',
    kind: 'threshold',
    sensorId,
    metric: 'temperature',
    state: 'firing',
    severity: n % 2 === 0 ? 'warning' : 'critical',
    ts: n,
    startedAt: n,
    value: 30 + n,
    message: `alert ${n}`,
    labels: {},
  };
}

/** The Alerts service over the in-memory log, through a real gRPC server and client. */
describe('Alerts service', () => {
  const log = new MemoryRecordLog();
  log.createTopic(TOPIC, 1);
  const append = (alerts: Alert[]): void => {
    log.append([
      { topic: TOPIC, messages: alerts.map((a) => ({ key: a.sensorId, value: JSON.stringify(a) })) },
    ]);
  };
  const subscriptions = new Subscriptions({ perNode: 3, perToken: 2 });
  let running: RunningGrpcServer;
  let service: AlertsService | undefined;
  let client: AlertsClient;
  const md = new Metadata();
  md.set('authorization', `Bearer ${viewer}`);

  beforeAll(async () => {
    running = await startGrpcServer(
      {
        address: '127.0.0.1:0',
        security: { insecureDevelopmentOnly: true },
        tokens: TokenAuthority.parse(`viewer=${viewer},viewer=${other}`),
        logger: silentLogger,
      },
      (server, grpc) => {
        service = addAlertsService(server, grpc, log.alertLog(TOPIC), subscriptions, silentLogger);
      },
    );
    client = new running.grpc.vigil.v1.Alerts(`127.0.0.1:${running.port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await service?.close();
    await running.stop();
  });

  /** Subscribes and collects until `enough` says so (then cancels), or the server ends the call. */
  const collect = (
    request: SubscribeRequest,
    enough: (got: Alert__Output[]) => boolean,
    metadata = md,
  ): Promise<{ got: Alert__Output[]; error?: ServiceError }> =>
    new Promise((resolve) => {
      const got: Alert__Output[] = [];
      const stream = client.subscribe(request, metadata);
      stream.on('data', (a: Alert__Output) => {
        got.push(a);
        if (enough(got)) stream.cancel();
      });
      stream.on('error', (error: ServiceError) => {
        resolve(error.code === status.CANCELLED ? { got } : { got, error });
      });
    });

  it('a subscriber that reconnects after the last id it holds misses nothing and gets nothing twice', async () => {
    append([1, 2, 3, 4, 5].map(alert));
    const first = await collect({ sinceTs: '0' }, (got) => got.length === 3);
    expect(first.got.map((a) => a.id)).toEqual([1, 2, 3].map((n) => alert(n).id));
    // While it is away: more alerts, and a replay writes 2 and 4 again (same ids).
    append([6, 2, 4, 7].map(alert));
    const last = first.got.at(-1)?.id ?? '';
    const second = await collect({ sinceId: last }, (got) => got.length === 4);
    const all = [...first.got, ...second.got].map((a) => a.id);
    expect(all).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => alert(n).id));
    expect(second.got[0]).toMatchObject({ ts: '4', severity: 'warning', message: 'alert 4' });
  });

  it('streams live alerts through the filter', async () => {
    const pending = collect(
      { filter: { severities: ['critical'], sensorIds: ['st-1', 'st-3'] } },
      (got) => got.length === 2,
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // the reader starts at the end of the log
    append([8, 9, 10, 15, 17].map(alert)); // critical: 9 (st-2), 15 (st-1), 17 (st-3)
    const { got } = await pending;
    expect(got.map((a) => a.message)).toEqual(['alert 15', 'alert 17']);
    // The cancel reaches the server, which stops the subscription's reader.
    await vi.waitFor(() => {
      expect(service?.active).toBe(0);
    });
  });

  it('answers NOT_FOUND for an id the log does not hold and INVALID_ARGUMENT for a malformed request', async () => {
    const missing = await collect({ sinceId: 'a'.repeat(32) }, () => false);
    expect(missing.error?.code).toBe(status.NOT_FOUND);
    expect(missing.error?.details).toMatch(/not in vigil.alerts/);
    const malformed = await collect({ sinceId: 'nope' }, () => false);
    expect(malformed.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(malformed.error?.details).toMatch(/since_id "nope" is not an alert id/);
    const severity = await collect({ filter: { severities: ['loud'] } }, () => false);
    expect(severity.error?.details).toMatch(/"loud" is not info, warning or critical/);
  });

  it('gives a token limits.subscriptionsPerToken streams and the node subscriptionsPerNode, RESOURCE_EXHAUSTED beyond', async () => {
    const otherMd = new Metadata();
    otherMd.set('authorization', `Bearer ${other}`);
    const open = (metadata: Metadata) => {
      const stream = client.subscribe({}, metadata);
      const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
      return { stream, ended };
    };
    const a = open(md);
    const b = open(md);
    await vi.waitFor(() => {
      expect(service?.active).toBe(2);
    });
    expect((await collect({}, () => false)).error?.details).toMatch(/limits\.subscriptionsPerToken/);
    const c = open(otherMd);
    await vi.waitFor(() => {
      expect(service?.active).toBe(3);
    });
    const full = await collect({}, () => false, otherMd);
    expect(full.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(full.error?.details).toMatch(/limits\.subscriptionsPerNode/);
    // A place is given back when its subscriber goes away.
    a.stream.cancel();
    await vi.waitFor(() => {
      expect(service?.active).toBe(2);
    });
    const d = open(md);
    await vi.waitFor(() => {
      expect(service?.active).toBe(3);
    });
    for (const s of [b, c, d]) s.stream.cancel();
    await Promise.all([a, b, c, d].map((s) => s.ended));
    await vi.waitFor(() => {
      expect(service?.active).toBe(0);
    });
  });
});
