import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { restoreSnapshot } from '../../src/core/checkpoint-legacy.js';
import {
  decodeSensorSnapshot,
  applySensorWrite,
  encodeSensorCheckpoint,
  encodeSensorSnapshot,
  restoreSensor,
  type StoredSensor,
} from '../../src/core/checkpoint.js';
import { newOutputBuffer, type OutputBuffer } from '../../src/core/outputs.js';
import type { Reading } from '../../src/core/reading.js';
import { SensorProcessor, type SensorEvent } from '../../src/core/sensor.js';
import { VigilError } from '../../src/core/errors.js';
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
      const resumed = restoreSnapshot('s', testPipeline(), decodeSensorSnapshot(bytes));
      const b = runAll(resumed, STREAM.slice(cut));
      for (const key of ['windowResults', 'alerts', 'late', 'rollups', 'duplicates'] as const) {
        expect([...a[key], ...b[key]], `${key} after a cut at ${cut}`).toEqual(whole[key]);
      }
    }
  });

  it('restores the golden v2 checkpoint fixture (an older build wrote it) to the outputs of no interruption', () => {
    // Version 2 is read, no longer written: the fixture is what a build of that version wrote after
    // STREAM.slice(0, 8), and stays as it was.
    const golden = readFileSync(new URL('../fixtures/sensor-snapshot-v2.json', import.meta.url));
    const straight = new SensorProcessor('s', testPipeline());
    runAll(straight, STREAM.slice(0, 8));
    const tail = runAll(straight, STREAM.slice(8));
    const resumed = restoreSnapshot('s', testPipeline(), decodeSensorSnapshot(golden));
    const rest = runAll(resumed, STREAM.slice(8));
    expect(rest.windowResults.filter((w) => w.window === 'tumbling-10s').map((w) => w.count)).toEqual([3, 1]);
    expect(rest).toEqual(tail);
  });

  it('restores a checkpoint of version 1 (an older build) to the same state and outputs', () => {
    const v1 = readFileSync(new URL('../fixtures/sensor-snapshot-v1.json', import.meta.url));
    const v2 = readFileSync(new URL('../fixtures/sensor-snapshot-v2.json', import.meta.url));
    const fromV1 = restoreSnapshot('s', testPipeline(), decodeSensorSnapshot(v1));
    const fromV2 = restoreSnapshot('s', testPipeline(), decodeSensorSnapshot(v2));
    // The same state: both in today's form, byte for byte.
    expect(encodeSensorSnapshot(fromV1.snapshot()).toString('utf8')).toBe(
      encodeSensorSnapshot(fromV2.snapshot()).toString('utf8'),
    );
    expect(runAll(fromV1, STREAM.slice(8))).toEqual(runAll(fromV2, STREAM.slice(8)));
  });

  it('refuses a checkpoint of an unknown version, not JSON, or missing a part it lists', () => {
    const stored = (main: string): StoredSensor => ({ main: Buffer.from(main), parts: new Map() });
    expect(() => restoreSensor('s', testPipeline(), stored('{"v":5}'))).toThrow(
      /format version 5; this build reads 1, 2, 3, 4/,
    );
    expect(() => restoreSensor('s', testPipeline(), stored('nope'))).toThrow(VigilError);
    const p = new SensorProcessor('s', testPipeline());
    runAll(p, STREAM.slice(0, 3));
    const { main, parts } = encodeSensorCheckpoint(p.checkpoint());
    const [first] = parts.keys();
    const incomplete = new Map(
      [...parts].filter(([n, b]) => n !== first && b !== null) as [string, Buffer][],
    );
    expect(() => restoreSensor('s', testPipeline(), { main, parts: incomplete })).toThrow(
      expect.objectContaining({ code: 'CHECKPOINT_CORRUPT' }),
    );
  });

  it('an idle tick closes the windows of a silent sensor', () => {
    const p = new SensorProcessor('s', testPipeline());
    const out = runAll(p, [r(1_000, 1), { tick: 'idle', streamTime: 20_000, lastSeen: 1_000 }]);
    expect(out.windowResults.filter((w) => w.window === 'tumbling-10s').map((w) => w.start)).toEqual([0]);
    expect(p.watermark).toBe(18_000);
  });
});

/** A store's copy of one sensor: each checkpoint's main record replaces it, its parts are applied. */
class StoredCopy {
  stored: StoredSensor = { main: Buffer.alloc(0), parts: new Map() };
  /** Parts written by the last checkpoint (set, removed or appended to). */
  lastWritten = 0;

  get parts(): ReadonlyMap<string, Buffer> {
    return this.stored.parts;
  }

  apply(p: SensorProcessor): StoredSensor {
    const w = encodeSensorCheckpoint(p.checkpoint());
    this.stored = applySensorWrite(this.stored, w);
    this.lastWritten = w.parts.size + w.appends.size;
    return this.stored;
  }
}

describe('incremental checkpoints (version 3)', () => {
  it('resume exactly from the parts a series of checkpoints left in the store, cut anywhere', () => {
    const whole = runAll(new SensorProcessor('s', testPipeline()), STREAM);
    for (let every = 1; every <= 4; every++) {
      for (let cut = 0; cut <= STREAM.length; cut++) {
        // Checkpoints every `every` events up to the cut, each writing only what changed.
        const first = new SensorProcessor('s', testPipeline());
        const store = new StoredCopy();
        const a = newOutputBuffer();
        let stored = store.apply(first);
        STREAM.slice(0, cut).forEach((e, i) => {
          first.process(e, a);
          if ((i + 1) % every === 0 || i + 1 === cut) stored = store.apply(first);
        });
        const b = runAll(restoreSensor('s', testPipeline(), stored), STREAM.slice(cut));
        for (const key of ['windowResults', 'alerts', 'late', 'rollups', 'duplicates'] as const) {
          expect([...a[key], ...b[key]], `${key}, checkpoints every ${every}, cut at ${cut}`).toEqual(
            whole[key],
          );
        }
      }
    }
  });

  it('write only what changed: a reading costs its pane, its rollup minute and one dedupe segment', () => {
    const p = new SensorProcessor('s', testPipeline());
    const store = new StoredCopy();
    runAll(p, STREAM.slice(0, 9));
    store.apply(p);
    const all = store.parts.size;
    store.apply(p);
    expect(store.lastWritten).toBe(0); // nothing happened: the main record alone
    runAll(p, [r(15_500, 26, 11)]);
    store.apply(p);
    // the 10 s pane of 15.5 s (tumbling and sliding windows share it), its rollup minute, its dedupe
    // segment (appended to)
    expect(store.lastWritten).toBe(3);
    expect(all).toBeGreaterThan(store.lastWritten);
    // Windows that close remove their panes from the store; dedupe segments past the horizon go too.
    runAll(p, [r(200_000, 20, 12)]);
    store.apply(p);
    const names = [...store.parts.keys()];
    expect(names.filter((n) => n.startsWith('d:'))).toEqual(['d:53']); // 200 s / (60 s / 16)
    expect(names.filter((n) => n.startsWith('p:10000:'))).toEqual(['p:10000:200000']);
  });

  it('a version 2 checkpoint is rewritten whole at the next checkpoint, then goes on incrementally', () => {
    const v2 = readFileSync(new URL('../fixtures/sensor-snapshot-v2.json', import.meta.url));
    const store = new StoredCopy();
    store.stored = { main: v2, parts: new Map() }; // what an older build left: one record, no parts
    const p = restoreSensor('s', testPipeline(), { main: v2, parts: new Map() });
    const stored = store.apply(p);
    expect(store.lastWritten).toBe(store.parts.size); // every part, none removed
    const fromV2 = restoreSnapshot('s', testPipeline(), decodeSensorSnapshot(v2));
    expect(runAll(restoreSensor('s', testPipeline(), stored), STREAM.slice(8))).toEqual(
      runAll(fromV2, STREAM.slice(8)),
    );
  });

  it('a window removed from the pipeline has its parts removed from the store', () => {
    const windows = [
      ...testPipeline().windows,
      { kind: 'tumbling', name: 'tumbling-30s', sizeMs: 30_000 } as const,
    ];
    const p = new SensorProcessor('s', testPipeline({ windows }));
    const store = new StoredCopy();
    runAll(p, STREAM.slice(0, 6));
    const stored = store.apply(p);
    expect([...store.parts.keys()].filter((n) => n.startsWith('p:30000:')).length).toBeGreaterThan(0);
    store.apply(restoreSensor('s', testPipeline(), stored));
    expect([...store.parts.keys()].filter((n) => n.startsWith('p:30000:'))).toEqual([]);
    expect([...store.parts.keys()].filter((n) => n.startsWith('p:10000:')).length).toBeGreaterThan(0);
  });

  /** Parts as the fixtures show them: pane parts are JSON text, dedupe segments binary. */
  type ReadableParts = Record<string, { json?: string; base64?: string } | null>;
  const readableParts = (parts: ReadonlyMap<string, Buffer | null>): ReadableParts =>
    Object.fromEntries(
      [...parts].map(([n, b]) => [
        n,
        b === null ? null : b[0] === 0x5b ? { json: b.toString('utf8') } : { base64: b.toString('base64') },
      ]),
    );
  const storedParts = (parts: ReadableParts): Map<string, Buffer> =>
    new Map(
      Object.entries(parts).map(([n, v]) => [
        n,
        v?.json === undefined ? Buffer.from(v?.base64 ?? '', 'base64') : Buffer.from(v.json, 'utf8'),
      ]),
    );

  it('decodes the golden v4 checkpoint fixture (main record and parts) and encodes the same bytes', () => {
    const fixture = new URL('../fixtures/sensor-checkpoint-v4.json', import.meta.url);
    const p = new SensorProcessor('s', testPipeline());
    runAll(p, STREAM.slice(0, 8));
    const w = encodeSensorCheckpoint(p.checkpoint());
    const readable = { main: JSON.parse(w.main.toString('utf8')) as unknown, parts: readableParts(w.parts) };
    const text = `${JSON.stringify(readable, null, 2)}\n`;
    if (process.env['VIGIL_UPDATE_FIXTURES'] === '1') writeFileSync(fixture, text);
    const golden = JSON.parse(readFileSync(fixture, 'utf8')) as typeof readable;
    expect(readable).toEqual(golden);
    const resumed = restoreSensor('s', testPipeline(), {
      main: Buffer.from(JSON.stringify(golden.main)),
      parts: storedParts(golden.parts),
    });
    const rest = runAll(resumed, STREAM.slice(8));
    expect(rest.windowResults.filter((x) => x.window === 'tumbling-10s').map((x) => x.count)).toEqual([3, 1]);
    expect(rest).toEqual(runAll(p, STREAM.slice(8)));
  });

  it('restores the golden v3 fixture (an older build wrote it; dedupe key/ts pairs) to the outputs of no interruption', () => {
    // Version 3 is read, no longer written: the fixture is what a build of that version wrote after
    // STREAM.slice(0, 8), and stays as it was.
    const golden = JSON.parse(
      readFileSync(new URL('../fixtures/sensor-checkpoint-v3.json', import.meta.url), 'utf8'),
    ) as { main: unknown; parts: ReadableParts };
    const stored = { main: Buffer.from(JSON.stringify(golden.main)), parts: storedParts(golden.parts) };
    const straight = new SensorProcessor('s', testPipeline());
    runAll(straight, STREAM.slice(0, 8));
    const tail = runAll(straight, STREAM.slice(8));
    const resumed = restoreSensor('s', testPipeline(), stored);
    // A repeat of what the v3 index held is still one (STREAM[3] repeats STREAM[1]).
    const repeat = runAll(restoreSensor('s', testPipeline(), stored), [STREAM[1] as SensorEvent]);
    expect(repeat.duplicates).toHaveLength(1);
    expect(runAll(resumed, STREAM.slice(8))).toEqual(tail);
    // Its dedupe segments are rewritten in today's form at the next checkpoint, never appended to.
    const next = encodeSensorCheckpoint(resumed.checkpoint());
    expect(next.appends.size).toBe(0);
    expect(
      [...next.parts].filter(([n, b]) => n.startsWith('d:') && b !== null).every(([, b]) => b?.[0] === 2),
    ).toBe(true);
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
    const restored = restoreSnapshot(
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
