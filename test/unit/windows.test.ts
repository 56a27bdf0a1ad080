import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import type { WindowResult } from '../../src/core/outputs.js';
import { Random } from '../../src/sim/random.js';
import {
  PaneGroup,
  PaneWindows,
  paneGroups,
  windowResults,
  type WindowSettings,
  type WindowSpec,
  type WindowOperator,
} from '../../src/core/windows.js';
import { SessionWindows } from '../../src/core/session-windows.js';

const settings = (allowedLatenessMs = 0): WindowSettings => ({
  allowedLatenessMs,
  aggregates: ['count', 'sum', 'min', 'max'],
  withSketch: false,
  metrics: undefined,
});

function closeAll(op: WindowOperator, wm: number, s: WindowSettings = settings()): WindowResult[] {
  const out: WindowResult[] = [];
  op.close(wm, (start, end, metrics) => {
    windowResults(metrics, op.spec, 's', start, end, s, out);
  });
  return out;
}

const tumbling: Extract<WindowSpec, { kind: 'tumbling' }> = { kind: 'tumbling', name: 't10', sizeMs: 10_000 };
const sliding: Extract<WindowSpec, { kind: 'sliding' }> = {
  kind: 'sliding',
  name: 's30',
  sizeMs: 30_000,
  slideMs: 10_000,
};
const session: Extract<WindowSpec, { kind: 'session' }> = { kind: 'session', name: 'g5', gapMs: 5_000 };

describe('tumbling windows', () => {
  it('emit a window once the watermark reaches its end, ordered by start then metric', () => {
    const w = new PaneWindows(tumbling, settings());
    w.add(1_000, { t: 1, h: 10 }, -Infinity);
    w.add(2_000, { t: 3 }, -Infinity);
    w.add(12_000, { t: 5 }, -Infinity);
    expect(closeAll(w, 9_999)).toEqual([]);
    const first = closeAll(w, 10_000);
    expect(first.map((r) => [r.start, r.end, r.metric, r.count, r.sum])).toEqual([
      [0, 10_000, 'h', 1, 10],
      [0, 10_000, 't', 2, 4],
    ]);
    expect(first[0]?.id).toBe('s/t10/h/0');
    expect(closeAll(w, 10_000)).toEqual([]); // never twice
    expect(closeAll(w, 30_000).map((r) => r.start)).toEqual([10_000]);
    expect(w.isEmpty).toBe(true);
  });

  it('skip empty windows between sparse readings', () => {
    const w = new PaneWindows(tumbling, settings());
    w.add(5_000, { x: 1 }, -Infinity);
    w.add(1_000_005_000, { x: 2 }, -Infinity);
    expect(closeAll(w, 2_000_000_000).map((r) => r.start)).toEqual([0, 1_000_000_000]);
  });

  it('align negative times too', () => {
    const w = new PaneWindows(tumbling, settings());
    w.add(-1, { x: 1 }, -Infinity);
    expect(closeAll(w, 0).map((r) => [r.start, r.end])).toEqual([[-10_000, 0]]);
  });

  it('refuse a reading whose window is final, and take it within the allowed lateness', () => {
    const strict = new PaneWindows(tumbling, settings(0));
    expect(strict.add(5_000, { x: 1 }, 10_000)).toBe(false);
    expect(strict.add(10_000, { x: 1 }, 10_000)).toBe(true);
    const lenient = new PaneWindows(tumbling, settings(3_000));
    expect(lenient.add(5_000, { x: 1 }, 12_999)).toBe(true);
    expect(lenient.add(5_000, { x: 1 }, 13_000)).toBe(false);
    expect(closeAll(lenient, 12_999, settings(3_000))).toEqual([]);
    expect(closeAll(lenient, 13_000, settings(3_000)).map((r) => r.count)).toEqual([1]);
  });

  it('aggregate only the configured metrics', () => {
    const s = { ...settings(), metrics: new Set(['t']) };
    const w = new PaneWindows(tumbling, s);
    w.add(1, { t: 1, h: 2 }, -Infinity);
    expect(closeAll(w, 10_000, s).map((r) => r.metric)).toEqual(['t']);
  });
});

describe('sliding windows', () => {
  it('count each reading in every window that covers it', () => {
    const w = new PaneWindows(sliding, settings());
    w.add(25_000, { x: 1 }, -Infinity); // windows starting 0, 10 s, 20 s
    w.add(35_000, { x: 2 }, -Infinity); // windows starting 10 s, 20 s, 30 s
    const out = closeAll(w, 100_000);
    expect(out.map((r) => [r.start, r.end, r.count, r.sum])).toEqual([
      [0, 30_000, 1, 1],
      [10_000, 40_000, 2, 3],
      [20_000, 50_000, 2, 3],
      [30_000, 60_000, 1, 2],
    ]);
  });

  it('emit progressively as the watermark moves, and drop panes no window needs', () => {
    const w = new PaneWindows(sliding, settings());
    w.add(5_000, { x: 1 }, -Infinity); // in [−20 s, 10 s), [−10 s, 20 s) and [0, 30 s)
    expect(closeAll(w, 30_000).map((r) => r.start)).toEqual([-20_000, -10_000, 0]);
    w.add(31_000, { x: 1 }, 30_000);
    expect(closeAll(w, 40_000).map((r) => [r.start, r.count])).toEqual([[10_000, 1]]);
    expect(closeAll(w, 50_000).map((r) => [r.start, r.count])).toEqual([[20_000, 1]]);
    expect(closeAll(w, 60_000).map((r) => [r.start, r.count])).toEqual([[30_000, 1]]);
    expect(w.isEmpty).toBe(true);
  });

  it('take a reading whose earlier windows are final into the later ones only', () => {
    const w = new PaneWindows(sliding, settings());
    w.add(1_000, { x: 1 }, -Infinity);
    expect(closeAll(w, 30_000).map((r) => r.start)).toEqual([-20_000, -10_000, 0]);
    expect(w.add(5_000, { x: 10 }, 30_000)).toBe(false); // its last window [0, 30 s) is final
    expect(w.add(25_000, { x: 10 }, 30_000)).toBe(true); // counts in [10 s, 40 s) and [20 s, 50 s)
    expect(closeAll(w, 60_000).map((r) => [r.start, r.sum])).toEqual([
      [10_000, 10],
      [20_000, 10],
    ]);
  });

  it('use panes of gcd(size, slide) when the slide does not divide the size', () => {
    const spec: Extract<WindowSpec, { kind: 'sliding' }> = {
      kind: 'sliding',
      name: 'odd',
      sizeMs: 10_000,
      slideMs: 4_000,
    };
    const w = new PaneWindows(spec, settings());
    for (let t = 0; t < 20_000; t += 1_000) w.add(t, { x: 1 }, -Infinity);
    const out = closeAll(w, 100_000);
    // windows start at multiples of 4 s; each covers 10 readings except at the edges of the data
    expect(out.map((r) => [r.start, r.count])).toEqual([
      [-8_000, 2],
      [-4_000, 6],
      [0, 10],
      [4_000, 10],
      [8_000, 10],
      [12_000, 8],
      [16_000, 4],
    ]);
  });
});

describe('session windows', () => {
  it('group readings closer than the gap and close at last + gap', () => {
    const w = new SessionWindows(session, settings());
    for (const t of [1_000, 3_000, 7_000, 20_000]) w.add(t, { x: 1 }, -Infinity);
    expect(closeAll(w, 11_999)).toEqual([]);
    expect(closeAll(w, 12_000).map((r) => [r.start, r.end, r.count])).toEqual([[1_000, 12_000, 3]]);
    expect(closeAll(w, 25_000).map((r) => [r.start, r.end, r.count])).toEqual([[20_000, 25_000, 1]]);
  });

  it('merge two sessions that an out-of-order reading bridges', () => {
    const w = new SessionWindows(session, settings());
    w.add(1_000, { x: 1 }, -Infinity);
    w.add(9_000, { x: 2 }, -Infinity);
    w.add(5_000, { x: 4 }, -Infinity); // within 5 s of both
    expect(closeAll(w, 100_000).map((r) => [r.start, r.end, r.count, r.sum])).toEqual([
      [1_000, 14_000, 3, 7],
    ]);
  });

  it('refuse a reading that could only form a session already final', () => {
    const w = new SessionWindows(session, settings());
    expect(w.add(1_000, { x: 1 }, 6_000)).toBe(false);
    expect(w.add(1_000, { x: 1 }, 5_999)).toBe(true);
  });
});

describe('window snapshots', () => {
  it('merge panes in time order, so arrival order and restores give bit-identical results', () => {
    // The same readings, arriving with panes created in reverse time order, and in time order. Each
    // pane gets the same values in the same order; only the order the panes were created in differs.
    const data = [
      [11_000, 25.415],
      [12_000, -99.453],
      [21_000, 5.489],
      [22_000, 96.21],
      [31_000, 93.676],
      [32_000, -43.779],
    ] as const;
    const reversedPanes = [4, 5, 2, 3, 0, 1].map((i) => data[i] as (typeof data)[number]);
    const s: WindowSettings = { ...settings(), aggregates: ['count', 'sum', 'mean', 'stddev'] };
    const live = new PaneWindows(sliding, s);
    for (const [t, x] of reversedPanes) live.add(t, { x }, -Infinity);
    const inOrder = new PaneWindows(sliding, s);
    for (const [t, x] of data) inOrder.add(t, { x }, -Infinity);
    const restored = new PaneWindows(sliding, s).restore(roundTrip(live.snapshot()));
    const a = closeAll(live, 1e9, s);
    expect(closeAll(inOrder, 1e9, s)).toEqual(a);
    expect(closeAll(restored, 1e9, s)).toEqual(a);
  });

  it('restore to the same future output', () => {
    const a = new PaneWindows(sliding, settings());
    const s = new SessionWindows(session, settings());
    for (const t of [1_000, 12_000, 24_000]) {
      a.add(t, { x: t }, -Infinity);
      s.add(t, { x: t }, -Infinity);
    }
    expect(closeAll(a, 30_000)).toHaveLength(3);
    const a2 = new PaneWindows(sliding, settings()).restore(roundTrip(a.snapshot()));
    const s2 = new SessionWindows(session, settings()).restore(roundTrip(s.snapshot()));
    expect(closeAll(a2, 1e9)).toEqual(closeAll(a, 1e9));
    expect(closeAll(s2, 1e9)).toEqual(closeAll(s, 1e9));
  });
});

describe('pane groups (windows of one pane length sharing their panes)', () => {
  it('give every window exactly what it gives over panes of its own, late and out-of-order readings included', () => {
    const s: WindowSettings = { ...settings(2_000), aggregates: ['count', 'sum', 'mean', 'stddev', 'min'] };
    // One pane length (10 s), as paneGroups() groups them: a view's windows merge the panes it would
    // have alone, in the same order, so the results are equal to the bit.
    const specs = [
      tumbling,
      sliding,
      { kind: 'sliding', name: 's20', sizeMs: 20_000, slideMs: 10_000 } as const,
    ];
    const rng = new Random(9);
    for (let run = 0; run < 20; run++) {
      const group = new PaneGroup(specs, s);
      const alone = specs.map((spec) => new PaneWindows(spec, s));
      const together = specs.map((): WindowResult[] => []);
      const apart = specs.map((): WindowResult[] => []);
      let maxTs = 0;
      let lates = 0;
      for (let i = 0; i < 400; i++) {
        // Mostly forward in time, some out of order, some far behind the watermark.
        const back = rng.next() < 0.1 ? 60_000 * rng.next() : rng.next() < 0.3 ? 3_000 * rng.next() : 0;
        const ts = Math.round(maxTs + 700 * rng.next() - back);
        const wm = maxTs - 1_000;
        const values = { x: Math.round(rng.next() * 1000) / 10 };
        const taken = group.add(ts, values, wm);
        const takenAlone = alone.map((w) => w.add(ts, values, wm));
        expect(taken).toBe(takenAlone.some(Boolean));
        if (!taken) lates++;
        if (ts > maxTs) {
          maxTs = ts;
          specs.forEach((spec, v) => {
            group.closeView(v, maxTs - 1_000, (start, end, m) => {
              windowResults(m, spec, 's', start, end, s, together[v] ?? []);
            });
            (alone[v] as PaneWindows).close(maxTs - 1_000, (start, end, m) => {
              windowResults(m, spec, 's', start, end, s, apart[v] ?? []);
            });
          });
          group.prune();
        }
      }
      expect(lates).toBeGreaterThan(0);
      expect(together).toEqual(apart);
      expect(together.flat().length).toBeGreaterThan(20);
      // The whole-state form of each view is what the window alone holds (checkpoint versions 1 and 2).
      specs.forEach((_, v) => {
        expect(group.snapshotView(v)).toEqual((alone[v] as PaneWindows).snapshot());
      });
    }
  });
});

describe('paneGroups', () => {
  it('groups the tumbling and sliding specs by pane length, sessions apart', () => {
    const groups = paneGroups(
      [
        tumbling,
        session,
        sliding,
        { kind: 'tumbling', name: 't7', sizeMs: 7_000 },
        { kind: 'sliding', name: 's21', sizeMs: 21_000, slideMs: 7_000 },
      ],
      settings(),
    );
    expect(groups.map((g) => [g.paneMs, g.specs.map((x) => x.name)])).toEqual([
      [10_000, ['t10', 's30']],
      [7_000, ['t7', 's21']],
    ]);
  });
});
