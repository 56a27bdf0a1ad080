import { describe, expect, it } from 'vitest';
import type { WindowResult } from '../../src/core/outputs.js';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { Random } from '../../src/sim/random.js';
import { PARTITIONS } from '../support/acceptance.js';
import { embeddedConfig, settled } from '../support/embedded.js';

const T0 = Date.UTC(2026, 10, 23, 15, 0, 0);
const SENSORS = Array.from({ length: 24 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
const SECONDS = 120;

interface Truth {
  sensorId: string;
  ts: number;
  temperature: number;
  humidity: number;
}

/** One reading per sensor and second, its millisecond offset its own. */
function truth(): Truth[] {
  const out: Truth[] = [];
  for (let k = 0; k < SECONDS; k++)
    SENSORS.forEach((sensorId, i) =>
      out.push({
        sensorId,
        ts: T0 + k * 1000 + i * 7,
        temperature: 20 + ((k + i) % 7) / 2,
        humidity: 40 + (k % 5),
      }),
    );
  return out;
}

/**
 * The same readings in four shapes devices and collectors send, several sensors per record. Six
 * gateways of four sensors each write to a partition of their own choosing (as producers keyed by the
 * gateway, or that know nothing of Vigil's partitioning), mostly not their sensors' own: the engine
 * forwards each reading to its sensor's partition. (A sensor's readings keep their order through one
 * partition, any one; split over several, they would be reordered by up to the forwarding delay.)
 */
function records(readings: readonly Truth[]): { partition: number; key: string | null; value: string }[] {
  const random = new Random(21);
  const gateway = (sensorId: string): number => Number(sensorId.slice(4)) % 6;
  const out: { partition: number; key: string | null; value: string }[] = [];
  const pending = new Map<number, Truth[]>();
  let n = 0;
  const flush = (g: number): void => {
    const group = pending.get(g) ?? [];
    pending.delete(g);
    if (group.length === 0) return;
    const partition = (g * 5 + 1) % PARTITIONS;
    switch (n++ % 4) {
      case 0: // a SenML pack, a base name and time per sensor
        out.push({
          partition,
          key: null,
          value: JSON.stringify(
            group.flatMap((r) => [
              { bn: `${r.sensorId}:`, bt: r.ts / 1000, n: 'temperature', u: 'Cel', v: r.temperature },
              { n: 'humidity', u: '%RH', v: r.humidity },
            ]),
          ),
        });
        break;
      case 1: // line protocol, a line per sensor, nanoseconds
        out.push({
          partition,
          key: null,
          value: group
            .map(
              (r) =>
                `env,sensor=${r.sensorId},site=north temperature=${r.temperature},humidity=${r.humidity}i ${r.ts}000000`,
            )
            .join('\n'),
        });
        break;
      case 2: // JSON lines of Vigil's readings
        out.push({
          partition,
          key: null,
          value: group
            .map((r) =>
              JSON.stringify({
                sensorId: r.sensorId,
                ts: r.ts,
                values: { temperature: r.temperature, humidity: r.humidity },
              }),
            )
            .join('\n'),
        });
        break;
      default: // flat JSON, one per record, the sensor in the key, the time in ISO 8601
        for (const r of group)
          out.push({
            partition,
            key: r.sensorId,
            value: JSON.stringify({
              time: new Date(r.ts).toISOString(),
              temperature: r.temperature,
              humidity: r.humidity,
            }),
          });
    }
  };
  for (const r of readings) {
    const g = gateway(r.sensorId);
    pending.set(g, [...(pending.get(g) ?? []), r]);
    if (random.next() < 0.3) flush(g);
  }
  for (let g = 0; g < 6; g++) flush(g);
  return out;
}

/** Readings 80 s past the end close every window of the run (Vigil's JSON, keyed right), sent last. */
function closing(): { key: string; value: string }[] {
  return SENSORS.map((sensorId) => ({
    key: sensorId,
    value: JSON.stringify({ sensorId, ts: T0 + (SECONDS + 80) * 1000, values: { temperature: 0 } }),
  }));
}

async function run(abortAfter: number | undefined): Promise<Map<string, WindowResult>> {
  const config = embeddedConfig();
  const log = new MemoryRecordLog();
  const store = new MemoryStateStore();
  const topic = config.kafka.topics.readings;
  const input = records(truth());
  // As a live stream arrives: a little at a time, so forwards are never far behind. (Fed as one
  // backlog, a partition's own sensors may run ahead of the readings forwarded to it by more than
  // the idle timeout: those sensors' windows then close early, README "Known weak points".)
  const feed = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += 40) {
      for (const r of input.slice(i, Math.min(to, i + 40)))
        log.appendTo(topic, r.partition, [{ key: r.key, value: r.value }]);
      await settled(log, config);
    }
  };
  let node = await startEmbedded(config, silentLogger, log, store);
  if (abortAfter !== undefined) {
    await feed(0, abortAfter);
    for (const r of input.slice(abortAfter, abortAfter + 40))
      log.appendTo(topic, r.partition, [{ key: r.key, value: r.value }]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await node.engine.abort(); // no final checkpoint: forwards and readings replay
    node = await startEmbedded(config, silentLogger, log, store);
    await feed(abortAfter + 40, input.length);
  } else await feed(0, input.length);
  // Once every forward is in, the closing readings come.
  await new Promise((resolve) => setTimeout(resolve, 100));
  await settled(log, config);
  log.append([{ topic, messages: closing() }]);
  await settled(log, config);
  await node.stop();
  const dlq = log.partitions(config.kafka.topics.dlq).flat();
  expect(dlq.map((r) => String(r.headers['vigil-reason']))).toEqual([]);
  const windows = new Map<string, WindowResult>();
  for (const r of log.partitions(config.kafka.topics.aggregates).flat()) {
    const w = JSON.parse(r.value?.toString() ?? '') as WindowResult;
    if (w.window === 'tumbling-10s' && w.start < T0 + SECONDS * 1000) windows.set(w.id, w);
  }
  return windows;
}

describe('payloads of every shape, several sensors per record, on any partition', () => {
  const expected = new Map<string, { count: number; sum: number }>();
  for (const r of truth())
    for (const [metric, v] of [
      ['temperature', r.temperature],
      ['humidity', r.humidity],
    ] as const) {
      const id = `${r.sensorId}/tumbling-10s/${metric}/${Math.floor(r.ts / 10_000) * 10_000}`;
      const w = expected.get(id) ?? { count: 0, sum: 0 };
      expected.set(id, { count: w.count + 1, sum: w.sum + v });
    }
  const check = (windows: Map<string, WindowResult>): void => {
    expect([...windows.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, w] of windows) {
      const want = expected.get(id);
      expect(w.count, id).toBe(want?.count);
      expect(w.sum, id).toBeCloseTo(want?.sum ?? Number.NaN, 9);
    }
  };

  it(
    'each reading reaches its own sensor once: SenML, line protocol, JSON lines, flat JSON',
    { timeout: 60_000 },
    async () => {
      check(await run(undefined));
    },
  );

  it('and once across an abrupt stop, the forwards replayed', { timeout: 60_000 }, async () => {
    check(await run(700));
  });
});
