import { describe, expect, it } from 'vitest';
import { AlertFeed, decodeAlert, matchesFilter, type AlertFilter } from '../../src/core/alert-feed.js';
import { alertId } from '../../src/core/alert-id.js';
import type { Alert } from '../../src/core/outputs.js';

const none: AlertFilter = { sensorIds: [], ruleIds: [], severities: [], labels: {} };

function alert(sensorId: string, startedAt: number, extra: Partial<Alert> = {}): Alert {
  return {
    id: alertId('hot', sensorId, startedAt, 'firing'),
    ruleId: 'hot',
    kind: 'threshold',
    sensorId,
    metric: 'temperature',
    state: 'firing',
    severity: 'warning',
    ts: startedAt,
    startedAt,
    value: 31,
    message: 'temperature 31 above 30',
    labels: { city: 'lyon' },
    ...extra,
  };
}

const ids = (feed: AlertFeed, log: Alert[]): string[] =>
  log.flatMap((a) => {
    const out = feed.accept(a);
    return out === undefined ? [] : [out.id];
  });

describe('AlertFeed', () => {
  const log = [alert('a', 1), alert('b', 2), alert('a', 3), alert('c', 4)];

  it('streams each alert once, dropping the repeats a replay writes to the log', () => {
    const feed = new AlertFeed({ kind: 'live' }, none);
    const withRepeats = [log[0], log[1], log[0], log[2], log[1], log[3]] as Alert[];
    expect(ids(feed, withRepeats)).toEqual(log.map((a) => a.id));
  });

  it('resumes after an id: what came before, and repeats of it later, are not sent again', () => {
    const first = new AlertFeed({ kind: 'live' }, none);
    const got = ids(first, log.slice(0, 2));
    const again = new AlertFeed({ kind: 'id', id: got.at(-1) ?? '' }, none);
    // the log now also holds a replayed copy of log[0] after the resume point
    const rest = ids(again, [...log, log[0] as Alert, alert('d', 5)]);
    expect([...got, ...rest]).toEqual([...log, alert('d', 5)].map((a) => a.id));
    expect(again.seeking).toBe(false);
  });

  it('reports an id that the log does not hold once its end at subscribe time is passed', () => {
    const feed = new AlertFeed({ kind: 'id', id: 'f'.repeat(32) }, none);
    expect(ids(feed, log)).toEqual([]);
    expect(feed.missing(3n, 4n)).toBe(false);
    expect(feed.missing(4n, 4n)).toBe(true);
  });

  it('starts at an event time and applies the filter', () => {
    expect(ids(new AlertFeed({ kind: 'time', ts: 3 }, none), log)).toEqual([log[2]?.id, log[3]?.id]);
    const onlyA = new AlertFeed({ kind: 'live' }, { ...none, sensorIds: ['a'] });
    expect(ids(onlyA, log)).toEqual([log[0]?.id, log[2]?.id]);
  });

  it('forgets the oldest ids beyond its horizon', () => {
    const feed = new AlertFeed({ kind: 'live' }, none, 2);
    expect(ids(feed, [log[0], log[1], log[2], log[0]] as Alert[])).toEqual([
      log[0]?.id,
      log[1]?.id,
      log[2]?.id,
      log[0]?.id,
    ]);
  });
});

describe('alert filter and decoding', () => {
  it('matches on every field given, labels all together', () => {
    const a = alert('a', 1);
    expect(matchesFilter(a, { ...none, ruleIds: ['hot'], severities: ['warning'] })).toBe(true);
    expect(matchesFilter(a, { ...none, severities: ['critical'] })).toBe(false);
    expect(matchesFilter(a, { ...none, labels: { city: 'lyon' } })).toBe(true);
    expect(matchesFilter(a, { ...none, labels: { city: 'lyon', zone: 'n' } })).toBe(false);
  });

  it('decodes what the engine produces and says why it refuses the rest', () => {
    const a = alert('a', 1);
    expect(decodeAlert(JSON.stringify(a))).toEqual({ ok: true, value: a });
    const bad = decodeAlert(JSON.stringify({ ...a, id: 'x' }));
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.reason).toMatch(/id: must be 32 hex characters/);
  });
});
