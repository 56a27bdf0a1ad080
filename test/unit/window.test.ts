import { describe, expect, it } from 'vitest';
import { TumblingWindows } from '../../src/core/window.js';
import type { WindowResult } from '../../src/core/outputs.js';

const spec = { kind: 'tumbling' as const, name: 'tumbling-10s', sizeMs: 10_000 };

describe('TumblingWindows', () => {
  it('aligns windows to multiples of the size, also for negative times', () => {
    const w = new TumblingWindows(spec);
    expect(w.windowStart(0)).toBe(0);
    expect(w.windowStart(9_999)).toBe(0);
    expect(w.windowStart(10_000)).toBe(10_000);
    expect(w.windowStart(-1)).toBe(-10_000);
  });

  it('emits a window once the watermark reaches its end, ordered by start then metric', () => {
    const w = new TumblingWindows(spec);
    w.add(1_000, { t: 1, h: 10 }, undefined);
    w.add(2_000, { t: 3 }, undefined);
    w.add(12_000, { t: 5 }, undefined);
    const out: WindowResult[] = [];
    w.closeUpTo(9_999, 's1', out);
    expect(out).toEqual([]);
    w.closeUpTo(10_000, 's1', out);
    expect(out.map((r) => [r.start, r.metric, r.count, r.mean])).toEqual([
      [0, 'h', 1, 10],
      [0, 't', 2, 2],
    ]);
    expect(out[0]).toMatchObject({ id: 's1/tumbling-10s/h/0', sensorId: 's1', end: 10_000 });
    w.closeUpTo(30_000, 's1', out);
    expect(out.map((r) => r.start)).toEqual([0, 0, 10_000]);
    expect(w.openWindowCount).toBe(0);
  });

  it('aggregates only the configured metrics when a set is given', () => {
    const w = new TumblingWindows(spec);
    w.add(1, { t: 1, h: 2 }, new Set(['t']));
    const out: WindowResult[] = [];
    w.closeUpTo(10_000, 's', out);
    expect(out.map((r) => r.metric)).toEqual(['t']);
  });

  it('isLate is true exactly when the window end is at or before the watermark', () => {
    const w = new TumblingWindows(spec);
    expect(w.isLate(5_000, 9_999)).toBe(false);
    expect(w.isLate(5_000, 10_000)).toBe(true);
    expect(w.isLate(10_000, 10_000)).toBe(false);
  });
});
