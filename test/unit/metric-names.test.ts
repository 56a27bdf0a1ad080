import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSensorCheckpoint, restoreSensor } from '../../src/core/checkpoint.js';
import { newOutputBuffer, type OutputBuffer } from '../../src/core/outputs.js';
import type { Reading } from '../../src/core/reading.js';
import { SensorProcessor, type SensorPipeline } from '../../src/core/sensor.js';
import { testPipeline } from '../support/pipeline.js';

const pipeline = (max: number): SensorPipeline =>
  testPipeline({
    maxMetricsPerSensor: max,
    windows: [{ kind: 'tumbling', name: 'tumbling-10s', sizeMs: 10_000 }],
    rules: [],
    dedupeHorizonMs: 0,
  });

function run(
  p: SensorProcessor,
  readings: readonly Reading[],
  out: OutputBuffer = newOutputBuffer(),
): OutputBuffer {
  for (const r of readings) p.process(r, out);
  return out;
}

const r = (ts: number, ...names: string[]): Reading => ({
  sensorId: 's',
  ts,
  values: Object.fromEntries(names.map((n, i) => [n, i + 1])),
});

describe('metric names per sensor (limits.maxMetricsPerSensor)', () => {
  it('refuses a reading with a new name past the limit; known names go on; closed windows free their names', () => {
    const p = new SensorProcessor('s', pipeline(5));
    const out = run(p, [
      r(0, 'a', 'b', 'c'),
      r(1_000, 'd', 'e'),
      r(2_000, 'f'),
      r(3_000, 'a'),
      r(4_000, 'a', 'g'),
    ]);
    expect(out.refused.map((x) => x.reading.ts)).toEqual([2_000, 4_000]);
    expect(out.refused[0]?.reason).toBe(
      'values.f: a new metric of s, which holds 5 already: over limits.maxMetricsPerSensor (5)',
    );
    // The rollup's open minute still holds a..e: f is refused until that minute is final too.
    run(p, [r(15_000, 'a'), r(30_000, 'f')], out);
    expect(out.refused.map((x) => x.reading.ts)).toEqual([2_000, 4_000, 30_000]);
    // 125 s: its watermark makes minute 0 final, which frees a..e: f is taken, then g and h.
    run(p, [r(125_000, 'f'), r(126_000, 'g', 'h')], out);
    expect(out.refused).toHaveLength(3);
    const counted = out.windowResults.filter((w) => w.metric === 'a' && w.start === 0);
    expect(counted.map((w) => w.count)).toEqual([2]); // the refused reading at 4 s is not counted
  });

  it('decides the same after a checkpoint and restore at any point', () => {
    const name = fc.constantFrom(...'abcdefghijkl'.split(''));
    const reading = fc.record({
      dt: fc.integer({ min: 0, max: 40_000 }),
      names: fc.uniqueArray(name, { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 60 }), fc.nat(), (steps, at) => {
        let ts = 0;
        const readings = steps.map((s) => r((ts += s.dt), ...s.names));
        const whole = run(new SensorProcessor('s', pipeline(4)), readings);
        const cut = at % (readings.length + 1);
        const first = new SensorProcessor('s', pipeline(4));
        const a = run(first, readings.slice(0, cut));
        const w = encodeSensorCheckpoint(first.checkpoint());
        const parts = new Map([...w.parts].flatMap(([n, b]) => (b === null ? [] : [[n, b] as const])));
        const resumed = restoreSensor('s', pipeline(4), { main: w.main, parts });
        const b = run(resumed, readings.slice(cut));
        expect([...a.refused, ...b.refused].map((x) => x.reading.ts)).toEqual(
          whole.refused.map((x) => x.reading.ts),
        );
        expect([...a.windowResults, ...b.windowResults]).toEqual(whole.windowResults);
      }),
      { numRuns: 300 },
    );
  });
});
