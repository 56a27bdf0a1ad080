import { describe, expect, it } from 'vitest';
import {
  compileFileNamePattern,
  epochDay,
  placeLine,
  type FileDating,
} from '../../src/core/log-sources/dates.js';
import { fixedZone, parseTimeZone } from '../../src/core/log-sources/zone.js';
import { DEFAULT_PAYLOAD_SETTINGS } from '../../src/core/payloads/index.js';
import { readingsDecoder, routeBatch, type RecordDecoder } from '../../src/core/router.js';
import { logsDecoder } from '../../src/core/log-record.js';
import { StreamClock } from '../../src/core/stream-clock.js';

const time = (h: number, m: number, s = 0, ms = 0) => ({
  time: { hour: h, minute: m, second: s, millis: ms },
});
const utc = fixedZone(0);

describe('log line dates', () => {
  const fromName: FileDating = {
    nameDay: epochDay(2021, 10, 17),
    mtimeMs: Date.UTC(2026, 11, 2),
    zone: utc,
    readAt: 0,
  };

  it("takes a rolled file's date from its name, and moves to the next day past midnight", () => {
    const a = placeLine(time(23, 59, 58), undefined, fromName);
    const b = placeLine(time(23, 59, 57, 500), a.cursor, fromName); // threads slightly out of order
    const c = placeLine(time(0, 0, 2), b.cursor, fromName);
    const d = placeLine(time(0, 10), c.cursor, fromName);
    expect([a.ts, b.ts, c.ts, d.ts]).toEqual([
      Date.UTC(2021, 9, 17, 23, 59, 58),
      Date.UTC(2021, 9, 17, 23, 59, 57, 500),
      Date.UTC(2021, 9, 18, 0, 0, 2),
      Date.UTC(2021, 9, 18, 0, 10),
    ]);
  });

  it('dates a file without a date in its name by its modification time: the day before when a line is later', () => {
    const modified: FileDating = {
      nameDay: undefined,
      mtimeMs: Date.UTC(2026, 11, 2, 0, 30),
      zone: utc,
      readAt: 0,
    };
    // Its first line is from 23:10 (it ran past midnight, last written at 00:30).
    const first = placeLine(time(23, 10), undefined, modified);
    const later = placeLine(time(0, 20), first.cursor, modified);
    expect([first.ts, later.ts]).toEqual([Date.UTC(2026, 11, 1, 23, 10), Date.UTC(2026, 11, 2, 0, 20)]);
  });

  it('keeps dates and offsets a line writes, reads local times in the zone, and dates undated lines when read', () => {
    const f: FileDating = { ...fromName, zone: parseTimeZone('Europe/Paris') ?? utc, readAt: 123 };
    expect(
      placeLine(
        { time: { year: 2021, month: 7, day: 1, hour: 12, minute: 0, second: 0, millis: 0 } },
        undefined,
        f,
      ).ts,
    ).toBe(
      Date.UTC(2021, 6, 1, 10, 0), // summer time: +02:00
    );
    expect(placeLine(time(12, 0), undefined, f).ts).toBe(Date.UTC(2021, 9, 17, 10, 0)); // still +02:00 in October
    const winter = { ...f, nameDay: epochDay(2021, 12, 1) };
    expect(placeLine(time(12, 0), undefined, winter).ts).toBe(Date.UTC(2021, 11, 1, 11, 0)); // +01:00
    const offset = {
      time: { year: 2021, month: 1, day: 1, hour: 5, minute: 0, second: 0, millis: 0, offsetMinutes: -300 },
    };
    expect(placeLine(offset, undefined, f).ts).toBe(Date.UTC(2021, 0, 1, 10, 0));
    expect(placeLine({ ts: 42 }, undefined, f).ts).toBe(42);
    expect(placeLine({}, undefined, f).ts).toBe(123);
  });

  it("reads the date in a rolled file's name by logback's fileNamePattern", () => {
    const dayOf = compileFileNamePattern('LogFileGenerator.%d{yyyy-MM-dd}.%i.log');
    expect(dayOf('LogFileGenerator.2021-10-17.3.log')).toBe(epochDay(2021, 10, 17));
    expect(dayOf('LogFileGenerator.log')).toBeUndefined();
    expect(dayOf('LogFileGenerator.2021-13-17.3.log')).toBeUndefined();
    expect(compileFileNamePattern('app-%d{yyyyMMdd_HH}.log')('app-20211017_23.log')).toBe(
      epochDay(2021, 10, 17),
    );
    expect(() => compileFileNamePattern('app.%i.log')).toThrow(/no year/);
  });
});

describe('idle marks on vigil.logs', () => {
  const mark = (source: string, idleAt: number) => ({
    key: Buffer.from(source),
    value: Buffer.from(JSON.stringify({ source, idleAt })),
    offset: '7',
    headers: { 'vigil-control': Buffer.from('idle') },
  });

  const route = (decode: RecordDecoder, sensor: string) => ({
    topic: 't',
    // One partition: every sensor's own.
    partition: 0,
    partitions: 1,
    clock: new StreamClock(undefined, []),
    decode,
    maxFutureMs: 600_000,
    forwarded: new Map<number, bigint>(),
    sensor,
  });

  it('become an idle tick of their source at their place in the log; elsewhere they are skipped', () => {
    const routed = routeBatch([mark('billing', 5_000)], route(logsDecoder(), 'billing'));
    expect(routed.groups.get('billing')).toEqual([{ tick: 'idle', streamTime: 5_000, lastSeen: 5_000 }]);
    // On the readings stream a control header means nothing a producer may use: the record is skipped.
    const readings = routeBatch(
      [mark('st-1', 9e15)],
      route(readingsDecoder(DEFAULT_PAYLOAD_SETTINGS), 'st-1'),
    );
    expect([readings.groups.size, readings.deadLetters.length]).toEqual([0, 0]);
  });

  it('that are malformed are dead letters with their reason', () => {
    const bad = { ...mark('billing', 1), value: Buffer.from('{"source":"billing","idleAt":"soon"}') };
    const routed = routeBatch([bad], route(logsDecoder(), 'billing'));
    expect(routed.deadLetters.map((d) => d.reason)).toEqual([
      'invalid idle mark: needs {"source": <id>, "idleAt": <epoch ms>}',
    ]);
  });
});
