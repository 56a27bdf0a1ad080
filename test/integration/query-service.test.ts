import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { startNode } from '../../src/node/node.js';
import type { QueryClient } from '../../src/gen/vigil/v1/Query.js';
import type { WindowMetricsResponse__Output } from '../../src/gen/vigil/v1/WindowMetricsResponse.js';
import { silentLogger } from '../../src/obs/logger.js';
import { loadVigilProto } from '../../src/transport/grpc/proto.js';
import { acceptanceInput, REFERENCE_CONFIG, T0 } from '../support/acceptance.js';
import { acceptanceRawConfig, prepareKafka } from '../support/kafka-run.js';
import { waitForProgress } from '../support/node-process.js';
import { reference } from '../support/reference.js';

/**
 * The Query service and the HTTP metrics API of a running node answer from the Redis rollups,
 * exactly to the minute.
 */
describe('Query service on a node', () => {
  it(
    'answers window metrics equal to the readings in [from, to) to the millisecond, and rejects bad ranges',
    { timeout: 180_000 },
    async () => {
      const input = acceptanceInput(30, 12_000, 31); // 30 stations at 60 readings/s: 200 s of event time
      const expected = reference(input, REFERENCE_CONFIG);
      const raw = acceptanceRawConfig('query', {
        log: { level: 'silent' },
        checkpoint: { interval: '200ms' },
        grpc: { listen: '127.0.0.1:0', insecure: true },
        http: { listen: '127.0.0.1:0' },
      });
      const { config, kafka } = await prepareKafka(raw, input);
      const viewer = randomBytes(16).toString('hex');
      const node = await startNode(buildConfig(raw), silentLogger, undefined, {
        VIGIL_TOKENS: `viewer=${viewer},node=${randomBytes(16).toString('hex')}`,
      });
      await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end && p.end > 0,
        120_000,
      );

      const Query = loadVigilProto().grpc.vigil.v1.Query;
      const client: QueryClient = new Query(
        `127.0.0.1:${String(node.grpcPort)}`,
        credentials.createInsecure(),
      );
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${viewer}`);
      const ask = (request: object): Promise<WindowMetricsResponse__Output> =>
        new Promise((resolve, reject) => {
          client.windowMetrics(
            request,
            metadata,
            (err: ServiceError | null, value?: WindowMetricsResponse__Output) => {
              if (err !== null) reject(err);
              else resolve(value as WindowMetricsResponse__Output);
            },
          );
        });
      const from = Math.floor((T0 + 60_000) / 60_000) * 60_000; // minutes are epoch-aligned
      const to = from + 120_000;
      const answer = await ask({
        sensorIds: ['st-0001', 'st-0017'],
        metrics: ['temperature'],
        from: String(from + 20_123),
        to: String(to),
        aggregates: ['count', 'min', 'max', 'sum'],
      });
      /** The reference's readings of a series with from + 20_123 <= ts < to: exact to the millisecond. */
      const exact = (sensorId: string): number[] =>
        [from, from + 60_000].flatMap((m) => {
          const key = `${sensorId}/temperature/${m}`;
          const stamps = expected.stamps.get(key) ?? [];
          return (expected.rollups.get(key) ?? []).filter((_, i) => (stamps[i] as number) >= from + 20_123);
        });
      for (const series of answer.series) {
        const values = exact(series.sensorId);
        expect(values.length).toBeGreaterThan(60);
        // The minute `from` falls inside held readings before it, which the answer leaves out.
        expect(expected.rollups.get(`${series.sensorId}/temperature/${from}`)?.length).toBeGreaterThan(
          values.length -
            (expected.rollups.get(`${series.sensorId}/temperature/${from + 60_000}`)?.length ?? 0),
        );
        expect(series.values).toMatchObject({
          count: values.length,
          min: Math.min(...values),
          max: Math.max(...values),
        });
        expect(series.values['sum']).toBeCloseTo(
          values.reduce((a, b) => a + b, 0),
          9,
        );
      }
      expect(answer.series.map((s) => s.sensorId)).toEqual(['st-0001', 'st-0017']);
      // What it covered: the interval asked, to the millisecond (the minute `from` falls inside is
      // read from its raw readings in Redis), with nothing to note.
      expect([answer.coveredFrom, answer.coveredTo]).toEqual([String(from + 20_123), String(to)]);
      expect(answer.notes).toEqual([]);
      await expect(
        ask({ sensorIds: ['st-0001'], metrics: ['temperature'], from: String(to), to: String(from) }),
      ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
      await expect(
        ask({
          sensorIds: ['st-0001'],
          metrics: ['temperature'],
          from: String(from),
          to: String(to),
          aggregates: ['median'],
        }),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('unknown aggregate(s) median') as unknown,
      });
      // The same minutes through the HTTP metrics API, from the same Redis rollups.
      const values = [from, from + 60_000].flatMap(
        (m) => expected.rollups.get(`st-0001/temperature/${m}`) ?? [],
      );
      const res = await fetch(`http://127.0.0.1:${String(node.httpPort)}/compute/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${viewer}` },
        body: JSON.stringify({
          'st-0001.temperature': ['count', 'max'],
          'st-0001.pressure': ['count'],
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        result: { 'st-0001.temperature': { count: values.length, max: Math.max(...values) } },
        interval: {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          bounds: '[from, to)',
          asOf: expect.any(String) as unknown,
        },
        errors: [expect.stringContaining('sensor "st-0001" has no metric "pressure"') as unknown],
      });
      client.close();
      await node.stop();
    },
  );
});
