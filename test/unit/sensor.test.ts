import { describe, expect, it } from 'vitest';
import { newOutputBuffer } from '../../src/core/outputs.js';
import { SensorProcessor, type SensorPipeline } from '../../src/core/sensor.js';

const pipeline: SensorPipeline = {
  windows: [{ kind: 'tumbling', name: 'tumbling-10s', sizeMs: 10_000 }],
  rules: [{ kind: 'threshold', id: 'hot', metric: 't', above: 30, severity: 'critical', labels: {} }],
  outOfOrdernessMs: 2_000,
  metrics: undefined,
};

describe('SensorProcessor', () => {
  it('holds a window open for the out-of-orderness, then emits it', () => {
    const p = new SensorProcessor('s', pipeline);
    const out = newOutputBuffer();
    p.process({ sensorId: 's', ts: 9_000, values: { t: 1 } }, out);
    p.process({ sensorId: 's', ts: 11_000, values: { t: 2 } }, out); // watermark 9000: window 0 still open
    p.process({ sensorId: 's', ts: 8_000, values: { t: 3 } }, out); // out of order, but in time
    expect(out.windowResults).toEqual([]);
    p.process({ sensorId: 's', ts: 12_000, values: { t: 4 } }, out); // watermark 10000: closes [0, 10000)
    expect(out.windowResults).toHaveLength(1);
    expect(out.windowResults[0]).toMatchObject({ start: 0, count: 2, min: 1, max: 3, mean: 2 });
  });

  it('sends readings behind the watermark to late, with the reason, and counts them nowhere', () => {
    const p = new SensorProcessor('s', pipeline);
    const out = newOutputBuffer();
    p.process({ sensorId: 's', ts: 25_000, values: { t: 1 } }, out);
    p.process({ sensorId: 's', ts: 5_000, values: { t: 99 } }, out);
    expect(out.alerts).toEqual([]);
    expect(out.late).toHaveLength(1);
    expect(out.late[0]?.watermark).toBe(23_000);
    expect(out.late[0]?.reason).toContain('[0, 10000) is already closed');
  });

  it('evaluates rules on every in-time reading', () => {
    const p = new SensorProcessor('s', pipeline);
    const out = newOutputBuffer();
    p.process({ sensorId: 's', ts: 1, values: { t: 31 } }, out);
    p.process({ sensorId: 's', ts: 2, values: { t: 20 } }, out);
    expect(out.alerts.map((a) => a.state)).toEqual(['firing', 'resolved']);
  });
});
