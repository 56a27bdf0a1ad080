import { restoreLegacyClock } from '../../src/core/checkpoint-legacy.js';
import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import { StreamClock, type Tick } from '../../src/core/stream-clock.js';

function feed(clock: StreamClock, readings: [string, number][]): [string, string, number][] {
  const ticks: [string, string, number][] = [];
  for (const [id, ts] of readings)
    clock.observe(id, ts, (s: string, t: Tick) => ticks.push([s, t.tick, t.streamTime]));
  return ticks;
}

describe('StreamClock', () => {
  it('ticks a sensor once the partition stream time has moved on by the timeout', () => {
    const clock = new StreamClock(10_000, [30_000]);
    const ticks = feed(clock, [
      ['a', 0],
      ['b', 5_000],
      ['b', 9_999],
      ['b', 10_000], // a idle
      ['b', 25_000], // nothing new: a already idle, b just seen
      ['c', 31_000], // a silent; b idle (31 − 25 < 10? no: 6 s) -> only a
      ['c', 36_000], // b idle (36 − 25 ≥ 10)
    ]);
    expect(ticks).toEqual([
      ['a', 'idle', 10_000],
      ['a', 'silence', 31_000],
      ['b', 'idle', 36_000],
    ]);
    expect(clock.now).toBe(36_000);
  });

  it('gives the same ticks at the same records however the log was cut', () => {
    const readings: [string, number][] = Array.from({ length: 200 }, (_, i) => [
      `s${i % 7 === 0 ? 'x' : i % 3}`,
      i * 1_000 - (i % 5) * 700,
    ]);
    const whole = feed(new StreamClock(5_000, [20_000, 45_000]), readings);
    const first = new StreamClock(5_000, [20_000, 45_000]);
    const a = feed(first, readings.slice(0, 77));
    const resumed = restoreLegacyClock(
      new StreamClock(5_000, [20_000, 45_000]),
      roundTrip(first.snapshot()),
      [20_000, 45_000],
    );
    expect([...a, ...feed(resumed, readings.slice(77))]).toEqual(whole);
  });

  it('checkpoints incrementally: entries changed since the last checkpoint restore to the same ticks', () => {
    const readings: [string, number][] = Array.from({ length: 300 }, (_, i) => [
      `s${i % 11 === 0 ? 'x' : i % 4}`,
      i * 1_000 - (i % 5) * 700,
    ]);
    const thresholds = [20_000, 45_000];
    const whole = feed(new StreamClock(5_000, thresholds), readings);
    // The store's hash of entries, updated by each checkpoint's changes only.
    const stored = new Map<string, string>();
    const checkpoint = (clock: StreamClock): void => {
      const changes = clock.takeChanges();
      for (const [id, entry] of changes) {
        if (entry === null) stored.delete(id);
        else stored.set(id, entry);
      }
    };
    const first = new StreamClock(5_000, thresholds);
    const a = feed(first, readings.slice(0, 60));
    checkpoint(first);
    const b = feed(first, readings.slice(60, 140));
    checkpoint(first);
    expect(first.takeChanges().size).toBe(0); // nothing since
    const resumed = new StreamClock(5_000, thresholds).restoreEntries(first.now, new Map(stored));
    expect([...a, ...b, ...feed(resumed, readings.slice(140))]).toEqual(whole);
    // Sensors that wait in no queue any more are deleted, not kept.
    expect([...stored.values()].every((e) => e.includes('|'))).toBe(true);
  });

  it('gives each silence threshold its own tick, and follows thresholds that change', () => {
    const clock = new StreamClock(undefined, [30_000, 120_000]);
    expect(
      feed(clock, [
        ['a', 0],
        ['b', 30_000], // a: 30 s silence
        ['b', 120_000], // a: 120 s silence (the longer rule fires too)
      ]),
    ).toEqual([
      ['a', 'silence', 30_000],
      ['a', 'silence', 120_000],
    ]);
    clock.setSilenceThresholds([60_000]); // a rule set at runtime: tracks sensors from their next reading
    expect(
      feed(clock, [
        ['c', 130_000],
        ['b', 190_000],
      ]),
    ).toEqual([['c', 'silence', 190_000]]);
  });

  it('restores a checkpoint from before per-threshold queues into the shortest threshold', () => {
    const clock = restoreLegacyClock(
      new StreamClock(undefined, [30_000, 90_000]),
      { st: 10_000, idle: [], silence: [['a', 10_000]] },
      [30_000, 90_000],
    );
    expect(feed(clock, [['b', 40_000]])).toEqual([['a', 'silence', 40_000]]);
  });

  it('does nothing without timeouts', () => {
    expect(
      feed(new StreamClock(undefined, []), [
        ['a', 0],
        ['b', 1e9],
      ]),
    ).toEqual([]);
  });
});

describe('StreamClock when nothing arrives (clock records, expected sensors, gaps)', () => {
  type Event = ['read', string, number] | ['clock', number] | ['expect', string];
  function run(clock: StreamClock, events: readonly Event[]): [string, string, number][] {
    const ticks: [string, string, number][] = [];
    const emit = (s: string, t: Tick): void => {
      ticks.push([s, t.tick, t.streamTime]);
    };
    for (const e of events) {
      if (e[0] === 'read') clock.observe(e[1], e[2], emit);
      else if (e[0] === 'clock') clock.advance(e[1], emit);
      else clock.expect(e[1], emit);
    }
    return ticks;
  }

  it('clock records move stream time: a network that goes quiet is reported silent, its windows close', () => {
    const clock = new StreamClock(30_000, [60_000], 60_000);
    const quiet: Event[] = [
      ['read', 'a', 0],
      ['read', 'b', 20_000],
      ...Array.from({ length: 20 }, (_, i): Event => ['clock', 20_000 + (i + 1) * 5_000]),
    ];
    expect(run(clock, quiet)).toEqual([
      ['a', 'idle', 30_000],
      ['b', 'idle', 50_000],
      ['a', 'silence', 60_000],
      ['b', 'silence', 80_000],
    ]);
  });

  it('a sensor that is sending is never silent, whatever the clock records say', () => {
    const clock = new StreamClock(30_000, [60_000], 60_000);
    const events: Event[] = [];
    for (let t = 0; t < 600_000; t += 5_000) events.push(['clock', t], ['read', 'a', t - 1_000]);
    expect(run(clock, events).filter(([, kind]) => kind === 'silence')).toEqual([]);
  });

  it('a gap nobody observed (no clock record either) restarts the silence timers at its end', () => {
    const clock = new StreamClock(30_000, [60_000], 60_000);
    const events: Event[] = [
      ['read', 'a', 0],
      ['read', 'b', 0],
      ['clock', 5_000],
      ['clock', 29 * 60_000], // Vigil and the bridge were down for 29 minutes
      ['read', 'a', 29 * 60_000 + 500], // a reports again at once; b never does
      ['clock', 29 * 60_000 + 30_000],
      ['clock', 29 * 60_000 + 60_000],
    ];
    expect(run(clock, events)).toEqual([
      ['a', 'idle', 29 * 60_000], // the windows of that time are long final: idle ticks are not held back
      ['b', 'idle', 29 * 60_000],
      ['a', 'idle', 29 * 60_000 + 60_000], // a's windows close 30 s after its last reading
      ['b', 'silence', 29 * 60_000 + 60_000], // b: `after` after observation resumed; a: never
    ]);
  });

  it('an expected sensor that never reports is reported silent; one that does, or is watched already, is not', () => {
    const clock = new StreamClock(undefined, [60_000], 60_000);
    const events: Event[] = [
      ['clock', 1_000],
      ['expect', 'never'],
      ['expect', 'reports'],
      ['read', 'old', 1_500],
      ['expect', 'old'], // watched already: its timer stays
      ['read', 'reports', 30_000],
      ...Array.from({ length: 20 }, (_, i): Event => ['clock', 5_000 * (i + 1)]),
    ];
    expect(run(clock, events)).toEqual([
      ['never', 'silence', 65_000],
      ['old', 'silence', 65_000],
      ['reports', 'silence', 90_000],
    ]);
  });

  it('restores from incremental checkpoints to the same ticks, expected sensors and gaps included', () => {
    const events: Event[] = [];
    for (let i = 0; i < 400; i++) {
      const t = i * 3_000 + (i > 200 ? 40 * 60_000 : 0); // a 40-minute gap in the middle
      if (i % 9 === 0) events.push(['expect', `e${i % 4}`]);
      if (i % 3 === 0) events.push(['clock', t]);
      else events.push(['read', `s${i % 5}`, t - (i % 4) * 700]);
    }
    const make = (): StreamClock => new StreamClock(10_000, [20_000, 90_000], 60_000);
    const whole = run(make(), events);
    for (const cut of [1, 150, 210, 399]) {
      const first = make();
      const before = run(first, events.slice(0, cut));
      const entries = new Map<string, string>();
      for (const [id, entry] of first.takeChanges()) if (entry !== null) entries.set(id, entry);
      const resumed = make().restoreEntries(first.now, entries);
      expect([...before, ...run(resumed, events.slice(cut))], `cut at ${cut}`).toEqual(whole);
    }
  });
});
