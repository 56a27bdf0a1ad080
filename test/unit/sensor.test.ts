import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeSensorSnapshot, encodeSensorSnapshot } from '../../src/core/checkpoint.js';
import { newOutputBuffer, type OutputBuffer } from '../../src/core/outputs.js';
import type { Reading } from '../../src/core/reading.js';
import { SensorProcessor, type SensorEvent } from '../../src/core/sensor.js';
import { VigilError } from '../../src/errors.js';
import { testPipeline } from '../support/pipeline.js';

const r = (ts: number, t: number, seq?: number): Reading =>
  seq === undefined ? { sensorId: 's', ts, values: { t } } : { sensorId: 's', ts, values: { t }, seq };

function runAll(p: SensorProcessor, events: readonly SensorEvent[]): OutputBuffer {
  const out = newOutputBuffer();
  for (const e of events) p.process(e, out);
  return out;
}

/** A stream touching every path: in-order, out-of-order, duplicate, late, alert, idle tick. */
const STREAM: SensorEvent[] = [
  r(1_000, 20, 1),
  r(3_000, 31, 2), // hot fires
  r(2_000, 22, 3), // out of order, in time
  r(3_000, 31, 2), // duplicate (seq and content)
  r(9_000, 25, 4), // hot resolves (25 ≤ 30 − 1)
  r(9_500, 26, 5),
  r(14_000, 24, 6), // watermark 12 000 ≥ 10 000 + 1 000 lateness: tumbling [0, 10 s) final, busy fires
  r(13_500, 24, 7),
  r(15_000, 27, 8),
  r(40_000, 25, 10), // watermark 38 000: everything up to 20 s final, busy resolves
  r(1_500, 99, 9), // late for every window
  { tick: 'idle', streamTime: 70_000, lastSeen: 40_000 }, // watermark 68 000: the rest closes
  { tick: 'silence', streamTime: 75_000, lastSeen: 40_000 },
];

describe('SensorProcessor', () => {
  it('produces window results, alerts, late records, duplicates and rollups', () => {
    const out = runAll(new SensorProcessor('s', testPipeline()), STREAM);
    expect(out.duplicates).toHaveLength(1);
    expect(out.late.map((l) => l.reading.ts)).toEqual([1_500]);
    expect(out.late[0]?.reason).toContain('too late');
    const t10 = out.windowResults.filter((w) => w.window === 'tumbling-10s');
    expect(t10.map((w) => [w.start, w.count, w.min, w.max, w.first, w.last])).toEqual([
      [0, 5, 20, 31, 20, 26],
      [10_000, 3, 24, 27, 24, 27],
      [40_000, 1, 25, 25, 25, 25],
    ]);
    expect(t10[0]?.mean).toBeCloseTo(124 / 5, 12);
    expect(t10[0]?.rate).toBe(0.5);
    const sessions = out.windowResults.filter((w) => w.window === 'session-5s');
    expect(sessions.map((w) => [w.start, w.end, w.count])).toEqual([
      [1_000, 8_000, 3], // 3 s -> 9 s is a gap of 6 s > 5 s
      [9_000, 20_000, 5],
      [40_000, 45_000, 1],
    ]);
    const sliding = out.windowResults.filter((w) => w.window === 'sliding-20s-10s');
    expect(sliding.map((w) => [w.start, w.count])).toEqual([
      [-10_000, 5],
      [0, 8],
      [10_000, 3],
      [30_000, 1],
      [40_000, 1],
    ]);
    expect(out.alerts.map((a) => [a.ruleId, a.state, a.startedAt])).toEqual([
      ['hot', 'firing', 3_000],
      ['hot', 'resolved', 3_000],
      ['busy', 'firing', 0],
      ['busy', 'resolved', 0],
      ['quiet', 'firing', 40_000],
    ]);
    expect(out.rollups.map((x) => [x.metric, x.minute, x.acc[0]])).toEqual([['t', 0, 9]]);
  });

  it('a snapshot taken anywhere resumes to exactly the same outputs', () => {
    const whole = runAll(new SensorProcessor('s', testPipeline()), STREAM);
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const first = new SensorProcessor('s', testPipeline());
      const a = runAll(first, STREAM.slice(0, cut));
      const bytes = encodeSensorSnapshot(first.snapshot());
      const resumed = SensorProcessor.restore('s', testPipeline(), decodeSensorSnapshot(bytes));
      const b = runAll(resumed, STREAM.slice(cut));
      for (const key of ['windowResults', 'alerts', 'late', 'rollups', 'duplicates'] as const) {
        expect([...a[key], ...b[key]], `${key} after a cut at ${cut}`).toEqual(whole[key]);
      }
    }
  });

  it('decodes the golden v2 checkpoint fixture and encodes the same bytes', () => {
    const fixture = new URL('../fixtures/sensor-snapshot-v2.json', import.meta.url);
    const p = new SensorProcessor('s', testPipeline());
    runAll(p, STREAM.slice(0, 8));
    const bytes = encodeSensorSnapshot(p.snapshot());
    if (process.env['VIGIL_UPDATE_FIXTURES'] === '1') writeFileSync(fixture, bytes);
    const golden = readFileSync(fixture);
    expect(bytes.toString('utf8')).toBe(golden.toString('utf8'));
    const resumed = SensorProcessor.restore('s', testPipeline(), decodeSensorSnapshot(golden));
    const rest = runAll(resumed, STREAM.slice(8));
    expect(rest.windowResults.filter((w) => w.window === 'tumbling-10s').map((w) => w.count)).toEqual([3, 1]);
  });

  it('restores a checkpoint of version 1 (an older build) to the same state and outputs', () => {
    const v1 = readFileSync(new URL('../fixtures/sensor-snapshot-v1.json', import.meta.url));
    const v2 = readFileSync(new URL('../fixtures/sensor-snapshot-v2.json', import.meta.url));
    const fromV1 = SensorProcessor.restore('s', testPipeline(), decodeSensorSnapshot(v1));
    // The same state: re-encoded as v2, it is the v2 fixture byte for byte.
    expect(encodeSensorSnapshot(fromV1.snapshot()).toString('utf8')).toBe(v2.toString('utf8'));
    const fromV2 = SensorProcessor.restore('s', testPipeline(), decodeSensorSnapshot(v2));
    expect(runAll(fromV1, STREAM.slice(8))).toEqual(runAll(fromV2, STREAM.slice(8)));
  });

  it('refuses a checkpoint of an unknown version or not JSON', () => {
    expect(() => decodeSensorSnapshot('{"v":3}')).toThrow(/format version 3; this build reads 1 and 2/);
    expect(() => decodeSensorSnapshot('nope')).toThrow(VigilError);
  });

  it('an idle tick closes the windows of a silent sensor', () => {
    const p = new SensorProcessor('s', testPipeline());
    const out = runAll(p, [r(1_000, 1), { tick: 'idle', streamTime: 20_000, lastSeen: 1_000 }]);
    expect(out.windowResults.filter((w) => w.window === 'tumbling-10s').map((w) => w.start)).toEqual([0]);
    expect(p.watermark).toBe(18_000);
  });
});

describe('pausing a sensor', () => {
  it('holds events in its checkpointed state and, on resume, gives exactly the outputs of no pause', () => {
    const straight = runAll(new SensorProcessor('s', testPipeline()), STREAM);
    const p = new SensorProcessor('s', testPipeline());
    const out = runAll(p, STREAM.slice(0, 3));
    p.pause();
    for (const e of STREAM.slice(3, 9)) p.process(e, out);
    expect(p.paused).toBe(true);
    expect(p.heldEvents).toBe(6);
    // a checkpoint while paused keeps the held events
    const restored = SensorProcessor.restore(
      's',
      testPipeline(),
      decodeSensorSnapshot(encodeSensorSnapshot(p.snapshot())),
    );
    expect(restored.paused).toBe(true);
    restored.resume(out);
    expect(restored.paused).toBe(false);
    for (const e of STREAM.slice(9)) restored.process(e, out);
    for (const key of ['windowResults', 'alerts', 'late', 'rollups', 'duplicates'] as const)
      expect(out[key], key).toEqual(straight[key]);
  });

  it('holds at most maxHeldEvents: the next event resumes it, still with the outputs of no pause', () => {
    const straight = runAll(new SensorProcessor('s', testPipeline()), STREAM);
    const p = new SensorProcessor('s', testPipeline({ maxHeldEvents: 4 }));
    const out = runAll(p, STREAM.slice(0, 3));
    p.pause();
    for (const e of STREAM.slice(3, 7)) p.process(e, out);
    expect(p.heldEvents).toBe(4);
    p.process(STREAM[7] as (typeof STREAM)[number], out); // the fifth
    expect(p.paused).toBe(false);
    expect(out.resumed).toEqual(['s']);
    for (const e of STREAM.slice(8)) p.process(e, out);
    for (const key of ['windowResults', 'alerts', 'late', 'rollups', 'duplicates'] as const)
      expect(out[key], key).toEqual(straight[key]);
  });
});
