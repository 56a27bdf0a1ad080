import { describe, expect, it } from 'vitest';
import { compileLogPattern, DEFAULT_LOG_PATTERN } from '../../src/core/log-sources/layouts.js';
import { resolveTime } from '../../src/core/log-sources/dates.js';
import { parseUtcOffset } from '../../src/core/log-sources/zone.js';
import { assembleRecords, splitLines } from '../../src/core/log-sources/lines.js';

describe('logback patterns', () => {
  const p = compileLogPattern(DEFAULT_LOG_PATTERN);

  it('reads the default logback layout, padding included', () => {
    expect(p.parse('15:12:01.123 [main] ERROR c.e.Billing - payment failed: card 42')).toEqual({
      time: { hour: 15, minute: 12, second: 1, millis: 123 },
      level: 'ERROR',
      thread: 'main',
      logger: 'c.e.Billing',
      message: 'payment failed: card 42',
    });
    expect(p.parse('00:00:00.000 [pool-1 thread-2] INFO  app.Main - started - twice')).toMatchObject({
      level: 'INFO',
      thread: 'pool-1 thread-2',
      logger: 'app.Main',
      message: 'started - twice',
    });
  });

  it('refuses lines that do not fit, and impossible times', () => {
    expect(p.parse('hello world')).toBeUndefined();
    expect(p.parse('15:12:01.123 [main] LOUD c.e.B - x')).toBeUndefined();
    expect(p.parse('25:12:01.123 [main] INFO c.e.B - x')).toBeUndefined();
  });

  it('takes full dates, ISO8601 and aliases of the conversion words', () => {
    const iso = compileLogPattern('%d %-5p [%t] %c: %m%n');
    expect(iso.parse('2026-11-23 15:12:01,042 WARN  [main] a.B: slow')).toEqual({
      time: { year: 2026, month: 11, day: 23, hour: 15, minute: 12, second: 1, millis: 42 },
      level: 'WARN',
      thread: 'main',
      logger: 'a.B',
      message: 'slow',
    });
    const custom = compileLogPattern("%date{yyyy-MM-dd'T'HH:mm:ss} %level %X{req} %msg");
    expect(custom.parse('2026-01-02T03:04:05 FATAL r-1 boom')).toMatchObject({
      time: { year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5, millis: 0 },
      level: 'ERROR',
      message: 'boom',
    });
  });

  it.each([
    ['%level %msg', 'needs a timestamp'],
    ['%d %msg', 'needs a level'],
    ['%d %level', 'needs a message'],
    ['%d %level %foo %msg', '%foo is not supported'],
    ['%d{HH:mm} %level %msg', 'has no second'],
    ['%d{HH:mm:ss EEE} %level %msg', '"E" is not supported'],
  ])('explains what is wrong with %j', (pattern, why) => {
    expect(() => compileLogPattern(pattern)).toThrow(why);
  });

  it('places a time of day on the right day, in the right zone', () => {
    const now = Date.UTC(2026, 10, 23, 15, 30, 0);
    const t = { hour: 15, minute: 12, second: 1, millis: 5 };
    expect(resolveTime(t, now, 0)).toBe(Date.UTC(2026, 10, 23, 15, 12, 1, 5));
    // Written at 23:59 and read just after midnight: yesterday.
    const justAfterMidnight = Date.UTC(2026, 10, 24, 0, 0, 30);
    expect(resolveTime({ hour: 23, minute: 59, second: 59, millis: 0 }, justAfterMidnight, 0)).toBe(
      Date.UTC(2026, 10, 23, 23, 59, 59),
    );
    // 15:12 in UTC+02:00 is 13:12 UTC.
    expect(resolveTime(t, now, 120)).toBe(Date.UTC(2026, 10, 23, 13, 12, 1, 5));
    expect(parseUtcOffset('+02:00')).toBe(120);
    expect(parseUtcOffset('-0530')).toBe(-330);
    expect(parseUtcOffset('UTC')).toBe(0);
    expect(parseUtcOffset('Europe/Paris')).toBeUndefined();
  });
});

describe('lines and records', () => {
  const p = compileLogPattern(DEFAULT_LOG_PATTERN);
  const split = (text: string, base = 0, final = false) =>
    splitLines(Buffer.from(text), base, { final, maxLineBytes: 100 });

  it('leaves a partial last line for later unless the file is final', () => {
    expect(split('a\nb\r\nc')).toEqual({
      lines: [
        { text: 'a', start: 0, end: 2 },
        { text: 'b', start: 2, end: 5 },
      ],
      next: 5,
    });
    expect(split('a\nc', 10, true).lines.map((l) => [l.text, l.start, l.end])).toEqual([
      ['a', 10, 12],
      ['c', 12, 13],
    ]);
  });

  it('cuts a line longer than the limit: its start is kept, the rest skipped, across reads', () => {
    // Memory stays bounded, and the line still counts (as the record it starts).
    const r = split('x'.repeat(250));
    expect(r.lines.map((l) => [l.text.length, l.oversized])).toEqual([[100, true]]);
    expect(r).toMatchObject({ next: 250, skipping: true });
    // The next read goes on skipping to the line's end, then reads on.
    const after = splitLines(Buffer.from('yyyy\nz\n'), 250, {
      final: false,
      maxLineBytes: 100,
      skipping: true,
    });
    expect(after.lines.map((l) => [l.text, l.start])).toEqual([['z', 255]]);
    expect(after.skipping).toBeUndefined();
    // A long line whose end is in the buffer is cut and the next line read at once.
    const whole = split(`${'x'.repeat(250)}\nshort\n`);
    expect(whole.lines.map((l) => [l.text.length, l.oversized ?? false])).toEqual([
      [100, true],
      [5, false],
    ]);
  });

  it('drops a UTF-8 byte order mark at the start of a file, and CR of CR LF line ends', () => {
    const r = split('\ufeffa\r\nb\r\n');
    expect(r.lines.map((l) => [l.text, l.start])).toEqual([
      ['a', 3],
      ['b', 6],
    ]);
    expect(split('\ufeffa\n', 10).lines[0]?.text).toBe('\ufeffa');
  });

  const assemble = (lines: Parameters<typeof assembleRecords>[0], flushLast: boolean, next: number) =>
    assembleRecords(lines, p, { flushLast, maxRecordChars: 200 }, next);

  it('joins a stack trace to its record and holds the last record until it is complete', () => {
    const text = [
      '15:00:00.000 [main] ERROR a.B - failed',
      'java.lang.IllegalStateException: boom',
      '\tat a.B.run(B.java:1)',
      'Caused by: x',
      '15:00:01.000 [main] INFO a.B - next',
      '',
    ].join('\n');
    const { lines, next } = split(text);
    const held = assemble(lines, false, next);
    expect(held.items).toHaveLength(1);
    expect(held.items[0]).toMatchObject({
      kind: 'record',
      start: 0,
      parsed: {
        level: 'ERROR',
        message: 'failed\njava.lang.IllegalStateException: boom\n\tat a.B.run(B.java:1)\nCaused by: x',
      },
    });
    expect(held.next).toBe(text.indexOf('15:00:01'));
    const flushed = assemble(lines, true, next);
    expect(flushed.next).toBe(next);
    expect(flushed.items.at(-1)).toMatchObject({
      kind: 'record',
      text: '15:00:01.000 [main] INFO a.B - next',
    });
  });

  it('gives every malformed line its reason', () => {
    const long = `  ${'y'.repeat(88)}`;
    const text = `garbage\n15:00:00.000 [main] ERROR a.B - failed\n${long}\n${long}\n`;
    const { lines, next } = split(text);
    const r = assemble(lines, true, next);
    expect(r.items.map((i) => [i.kind, i.kind === 'malformed' ? i.reason : i.text])).toEqual([
      ['malformed', `line does not match the log pattern "${DEFAULT_LOG_PATTERN}" and follows no record`],
      ['record', `15:00:00.000 [main] ERROR a.B - failed\n${long}`],
      ['malformed', 'continuation line beyond the longest record allowed (200 characters)'],
    ]);
  });
});
