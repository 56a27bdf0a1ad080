import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accumulate,
  AGGREGATES,
  finish,
  newAccumulator,
  snapshotAccumulator,
} from '../../src/core/aggregate.js';
import type { RollupRecord } from '../../src/core/outputs.js';
import { forEachRaw, MINUTE_MS, packRawMinutes } from '../../src/core/raw-minutes.js';
import type { Reading } from '../../src/core/reading.js';
import { addSeries, intervalNotes, rawMinutesToRead, tidy } from '../../src/core/rollup-query.js';

const M = MINUTE_MS;
const T0 = Date.parse('2020-01-13T15:10:00Z');

function rollupOf(minute: number, readings: readonly Reading[]): RollupRecord {
  const acc = newAccumulator(true);
  for (const r of readings) accumulate(acc, r.values['t'] as number, r.ts);
  return { sensorId: 's', metric: 't', minute, acc: snapshotAccumulator(acc) };
}

/**
 * The store as a query finds it: minutes before `closedBefore` have rollups (closed), the others are
 * open, and raw readings are kept of the minutes from `rawFrom` on (earlier ones expired; the open
 * minutes always have them).
 */
function storeOf(readings: readonly Reading[], closedBefore: number, rawFrom: number) {
  const byMinute = new Map<number, Reading[]>();
  for (const r of readings) {
    const m = Math.floor(r.ts / M) * M;
    byMinute.set(m, [...(byMinute.get(m) ?? []), r]);
  }
  const rollups = [...byMinute].filter(([m]) => m < closedBefore).map(([m, rs]) => rollupOf(m, rs));
  const raw = new Map(
    packRawMinutes(
      readings.filter((r) => r.ts >= rawFrom),
      undefined,
    ).map((p) => [p.minute, p.bytes] as const),
  );
  const open = [...byMinute.keys()].filter((m) => m >= closedBefore);
  return { rollups, raw, open };
}

/** What the query reads of that store for [from, to), as querySeries does, and what it answers. */
function query(store: ReturnType<typeof storeOf>, from: number, to: number) {
  const first = Math.floor(from / M) * M;
  const rollups = store.rollups.filter((r) => r.minute >= first && r.minute < to);
  const wanted = rawMinutesToRead(from, to, { maxSeriesMinutes: 1e9, rawTtlMs: 1 }, store.open);
  const raw = new Map(
    wanted.flatMap((m) => (store.raw.has(m) ? [[m, store.raw.get(m) as Buffer] as const] : [])),
  );
  const acc = newAccumulator(true);
  const notes = addSeries(acc, from, to, rollups, raw);
  return { values: finish(acc, [...AGGREGATES], to - from), notes };
}

const reading = (ts: number, t: number): Reading => ({ sensorId: 's', ts, values: { t } });

describe('raw minutes', () => {
  it('pack per sensor, metric and minute, 10 bytes a value, and read back what lies in [from, to)', () => {
    const readings: Reading[] = [
      { sensorId: 'a', ts: T0 + 1, values: { t: 1.5, h: 40 } },
      { sensorId: 'a', ts: T0 + 59_999, values: { t: -2 } },
      { sensorId: 'a', ts: T0 + M, values: { t: 3 } },
      { sensorId: 'b', ts: T0 + 5, values: { t: 4 } },
    ];
    const packed = packRawMinutes(readings, new Set(['t']));
    expect(packed.map((p) => [p.sensorId, p.metric, p.minute - T0, p.bytes.length])).toEqual([
      ['a', 't', 0, 20],
      ['a', 't', M, 10],
      ['b', 't', 0, 10],
    ]);
    // The golden bytes of version 1: uint16 LE offset, float64 LE value.
    expect((packed[0] as { bytes: Buffer }).bytes.toString('hex')).toBe(
      '0100000000000000f83f5fea00000000000000c0',
    );
    const seen: [number, number][] = [];
    forEachRaw(T0, (packed[0] as { bytes: Buffer }).bytes, T0, T0 + 59_999, (ts, v) =>
      seen.push([ts - T0, v]),
    );
    expect(seen).toEqual([[1, 1.5]]);
  });
});

describe('queries to the millisecond', () => {
  it('count exactly the readings in [from, to) wherever the ends fall, open minutes included', () => {
    // One reading a second for five minutes; minutes 0-2 closed, 3-4 still open.
    const readings = Array.from({ length: 300 }, (_, i) => reading(T0 + i * 1000, i % 7));
    const store = storeOf(readings, T0 + 3 * M, T0);
    const count = (from: number, to: number) => query(store, from, to).values.count;
    expect(count(T0 + 2 * M, T0 + 3 * M)).toBe(60);
    expect(count(T0 + 2 * M, T0 + 3 * M + 1)).toBe(61); // the contract's inclusive end
    expect(count(T0 + 2 * M, T0 + 2 * M + 30_000)).toBe(30);
    expect(count(T0 + 2 * M + 1, T0 + 3 * M)).toBe(59);
    expect(count(T0 + 3 * M, T0 + 5 * M)).toBe(120); // the open minutes, from raw readings alone
    expect(count(T0 + 2 * M + 500, T0 + 4 * M + 500)).toBe(120);
    expect(count(T0 - M, T0 + 10 * M)).toBe(300);
  });

  it('agree with the readings taken one by one, for any interval, closing point and expiry', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 * M - 1 }), fc.integer({ min: -50, max: 50 })), {
          maxLength: 200,
        }),
        fc.integer({ min: 0, max: 6 * M }),
        fc.integer({ min: 1, max: 6 * M }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        (points, a, length, closed, expired) => {
          const readings = points.map(([dt, v]) => reading(T0 + dt, v / 10));
          const closedBefore = T0 + closed * M;
          const rawFrom = T0 + Math.min(expired, closed) * M;
          const [from, to] = [T0 + a, T0 + a + length];
          const store = storeOf(readings, closedBefore, rawFrom);
          const { values, notes } = query(store, from, to);
          // A minute an end falls inside is counted whole only when it closed and its raw readings are
          // gone, and then the answer says so.
          const partial = [...new Set([Math.floor(from / M) * M, Math.floor((to - 1) / M) * M])].filter(
            (m) => m < closedBefore && m < rawFrom && (m < from || m + M > to),
          );
          const expected = readings.filter(
            (r) => (r.ts >= from && r.ts < to) || partial.includes(Math.floor(r.ts / M) * M),
          );
          const direct = newAccumulator(true);
          for (const r of expected) accumulate(direct, r.values['t'] as number, r.ts);
          const want = finish(direct, ['count', 'sum', 'min', 'max', 'mean'], to - from);
          expect(values.count).toBe(want.count);
          for (const k of ['min', 'max'] as const) expect(tidy(values[k])).toBe(tidy(want[k]));
          for (const k of ['sum', 'mean'] as const)
            if (want.count !== 0) expect(values[k] as number).toBeCloseTo(want[k] as number, 9);
          const noted = partial.filter((m) => readings.some((r) => Math.floor(r.ts / M) * M === m));
          expect(notes.length).toBe(noted.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('read raw minutes only at the ends and where minutes are open, however long the interval', () => {
    const h = { maxSeriesMinutes: 1e9, rawTtlMs: 10 * M };
    const open = [T0 - M, T0 + 99 * M, T0 + 100 * M, T0 + 2000 * M];
    // A day-long query: the two end minutes, and the open minutes inside it.
    const wanted = rawMinutesToRead(T0 + 30_000, T0 + 1440 * M + 1, h, open);
    expect(wanted.map((m) => (m - T0) / M)).toEqual([0, 99, 100, 1440]);
    expect(rawMinutesToRead(T0, T0 + 60 * M, h, open).map((m) => (m - T0) / M)).toEqual([]);
    expect(rawMinutesToRead(T0 + 1, T0 + 60 * M, { maxSeriesMinutes: 1e9, rawTtlMs: 0 }, open)).toEqual([]);
  });

  it('say when raw readings are not kept that the minutes not closed are not counted', () => {
    const now = T0 + 2 * M + 10;
    const h = { maxSeriesMinutes: 1e9, rawTtlMs: 0 };
    expect(intervalNotes(T0, T0 + 3 * M, now, h)).toEqual([
      'the minutes from 2020-01-13T15:12:00.000Z on are not closed yet: their readings are not counted (rollups.rawTtl is 0)',
    ]);
    expect(intervalNotes(T0, T0 + 2 * M, now, h)).toEqual([]);
    expect(intervalNotes(T0, T0 + 3 * M, now, { ...h, rawTtlMs: 1 })).toEqual([]);
  });

  it('tidy a result to 15 significant digits, and no data to null', () => {
    expect(tidy(55.099999999999994)).toBe(55.1);
    expect(tidy(0.1 + 0.2)).toBe(0.3);
    expect(tidy(1 / 3)).toBe(0.333333333333333);
    expect(tidy(Number.NaN)).toBeNull();
    expect(tidy(undefined)).toBeNull();
  });
});
