import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyAlert,
  groupKey,
  groupNotification,
  type AlertGroup,
  type GroupSpec,
} from '../../src/core/alert-groups.js';
import type { Alert } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryOutbox } from '../../src/ports/memory-outbox.js';
import { until } from '../support/wait.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { Notifier } from '../../src/transport/notify/notifier.js';
import type { Sink } from '../../src/transport/notify/sink.js';

const T = Date.UTC(2026, 11, 7, 9, 0, 0);
const SPEC: GroupSpec = { by: ['rule', 'area'], area: /^(st-\d{3})/, waitMs: 300 };

const alert = (
  sensorId: string,
  state: 'firing' | 'resolved',
  ts: number,
  over: Partial<Alert> = {},
): Alert => ({
  id: createHash('md5').update(`${sensorId}-${state}-${ts}`).digest('hex'), // 32 hex, as the engine's

  ruleId: 'temperature-high',
  kind: 'aggregate',
  sensorId,
  metric: 'temperature',
  state,
  severity: 'warning',
  ts,
  startedAt: ts,
  value: 31,
  message: 'mean above 30',
  labels: { team: 'city' },
  ...over,
});

describe('alert groups', () => {
  it('group by rule and station area, from the id pattern', () => {
    expect(groupKey(SPEC, alert('st-0012', 'firing', T))).toBe('rule=temperature-high,area=st-001');
    expect(groupKey(SPEC, alert('st-0017', 'firing', T))).toBe('rule=temperature-high,area=st-001');
    expect(groupKey(SPEC, alert('st-0020', 'firing', T))).toBe('rule=temperature-high,area=st-002');
    expect(groupKey(SPEC, alert('billing', 'firing', T))).toBe('rule=temperature-high,area=billing');
    expect(groupKey({ ...SPEC, by: ['severity'] }, alert('x', 'firing', T))).toBe('severity=warning');
  });

  it('a group fires with its first member, tells each change, and resolves with its last', () => {
    let g: AlertGroup | undefined;
    const seen: Alert[] = [];
    for (const a of [
      alert('st-0012', 'firing', T),
      alert('st-0013', 'firing', T + 1_000, { severity: 'critical' }),
      alert('st-0013', 'firing', T + 1_500), // a repeat: no change
      alert('st-0012', 'resolved', T + 60_000),
      alert('st-0013', 'resolved', T + 70_000),
    ]) {
      const next = applyAlert(SPEC, g, a);
      if (next === undefined) continue;
      g = next;
      seen.push(groupNotification(g));
    }
    expect(seen.map((n) => [n.id, n.state, n.value, n.severity])).toEqual([
      ['group:rule=temperature-high,area=st-001:1', 'firing', 1, 'warning'],
      ['group:rule=temperature-high,area=st-001:2', 'firing', 2, 'critical'],
      ['group:rule=temperature-high,area=st-001:3', 'firing', 1, 'critical'],
      ['group:rule=temperature-high,area=st-001:4', 'resolved', 0, 'critical'],
    ]);
    expect(seen[2]?.message).toBe(
      '1 firing in st-001: st-0013; resolved: st-0012 (last change: st-0012 resolved)',
    );
    expect(seen[3]).toMatchObject({
      sensorId: 'st-001',
      startedAt: T,
      message: 'all resolved in st-001: st-0012, st-0013',
      labels: {
        team: 'city',
        group: 'rule=temperature-high,area=st-001',
        firing: '',
        resolved: 'st-0012,st-0013',
      },
    });
    // A new episode starts afresh.
    const again = applyAlert(SPEC, g, alert('st-0014', 'firing', T + 90_000));
    expect(again).toMatchObject({ version: 5, startedAt: T + 90_000, resolved: {}, severity: 'warning' });
  });

  it("a member's further report (a count rule's next window) is a change carrying that report", () => {
    const report = (start: number, lines: string[]) => ({
      window: 'tumbling-1m',
      start,
      end: start + 60_000,
      counts: { ERROR: lines.length },
      lines,
      linesOmitted: 0,
    });
    const log = { ruleId: 'log-errors', kind: 'count', metric: 'ERROR' };
    const first = alert('billing', 'firing', T + 60_000, {
      ...log,
      startedAt: T,
      value: 2,
      report: report(T, ['e1', 'e2']),
    });
    const second = alert('billing', 'firing', T + 120_000, {
      ...log,
      startedAt: T,
      value: 3,
      report: report(T + 60_000, ['e3', 'e4', 'e5']),
    });
    const g1 = applyAlert(SPEC, undefined, first);
    const g2 = applyAlert(SPEC, g1, second);
    expect(g2?.version).toBe(2);
    expect(g2?.firing['billing']?.since).toBe(T);
    const n = g2 === undefined ? undefined : groupNotification(g2);
    expect(n?.report?.lines).toEqual(['e3', 'e4', 'e5']);
    expect(n?.message).toBe(
      '1 firing in billing: billing (last change: billing reported 3 ERROR in tumbling-1m)',
    );
    // The same report again (an alert a replay produced again) is no change: only a new window's is.
    expect(applyAlert(SPEC, g2, second)).toBeUndefined();
    const bare: Alert = { ...second };
    delete (bare as { report?: unknown }).report;
    expect(applyAlert(SPEC, g2, bare)).toBeUndefined();
  });

  it('the firing members are the sensors whose last alert fired, and each change is one version', () => {
    const sensors = ['st-0010', 'st-0011', 'st-0012'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...sensors), fc.boolean()), { maxLength: 60 }),
        (steps) => {
          let g: AlertGroup | undefined;
          const last = new Map<string, boolean>();
          let changes = 0;
          steps.forEach(([sensor, fires], i) => {
            const next = applyAlert(SPEC, g, alert(sensor, fires ? 'firing' : 'resolved', T + i));
            if ((last.get(sensor) ?? false) !== fires) changes++;
            last.set(sensor, fires);
            if (next !== undefined) g = next;
          });
          const firing = sensors.filter((s) => last.get(s) === true);
          expect(Object.keys(g?.firing ?? {}).sort()).toEqual(firing);
          expect(g?.version ?? 0).toBe(changes);
          if (g !== undefined)
            expect(groupNotification(g).state).toBe(firing.length > 0 ? 'firing' : 'resolved');
        },
      ),
    );
  });
});

class RecordingSink implements Sink {
  readonly kind = 'test';
  readonly got: Alert[] = [];
  constructor(readonly id: string) {}
  deliver(a: Alert): Promise<void> {
    this.got.push(a);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('grouped notifications', () => {
  const notifier = (log: MemoryRecordLog, outbox: MemoryOutbox, sink: Sink) =>
    new Notifier({
      sinks: [{ sink, filter: {}, group: SPEC }],
      outbox,
      consumer: log.consumer('notify'),
      topics: { alerts: 'alerts', dlq: 'dlq' },
      producer: log.producer(),
      retry: { initialMs: 20, maxMs: 50, giveUpAfterMs: 60_000, visibilityMs: 5_000 },
      logger: silentLogger,
      idlePollMs: 10,
    });
  const send = (log: MemoryRecordLog, alerts: Alert[]) => {
    log.append([
      { topic: 'alerts', messages: alerts.map((a) => ({ key: a.sensorId, value: JSON.stringify(a) })) },
    ]);
  };

  it('a heat episode over five stations is one notification as it fires and one as it ends, across a restart', async () => {
    const log = new MemoryRecordLog();
    log.createTopic('alerts', 1);
    log.createTopic('dlq', 1);
    const outbox = new MemoryOutbox();
    const heat = ['st-0012', 'st-0013', 'st-0014', 'st-0015', 'st-0016'];
    const first = new RecordingSink('ops');
    const one = notifier(log, outbox, first);
    await one.start();
    send(log, [...heat.map((s, i) => alert(s, 'firing', T + i * 1_000)), alert('st-0021', 'firing', T)]);
    // Five changes of st-001 within the wait: one notification showing all five.
    await until(() => first.got.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await one.stop();
    expect(first.got.map((n) => [n.sensorId, n.state, n.value, n.labels['firing']])).toEqual([
      ['st-001', 'firing', 5, heat.join(',')],
      ['st-002', 'firing', 1, 'st-0021'],
    ]);
    expect(one.stats.get('ops')).toMatchObject({ enqueued: 6, delivered: 2, coalesced: 4 });

    // Another notifier takes over: it reads the groups back, so the ends are told right.
    const second = new RecordingSink('ops');
    const two = notifier(log, outbox, second);
    await two.start();
    send(
      log,
      heat.map((s, i) => alert(s, 'resolved', T + 120_000 + i * 1_000)),
    );
    await until(() => second.got.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await two.stop();
    expect(second.got.map((n) => [n.sensorId, n.state, n.value, n.labels['resolved']])).toEqual([
      ['st-001', 'resolved', 0, heat.join(',')],
    ]);
    expect(second.got[0]?.id).toBe('group:rule=temperature-high,area=st-001:10');
  });

  it('a stored group that cannot be read starts again, its versions past the last sent, and stops nothing', async () => {
    const log = new MemoryRecordLog();
    log.createTopic('alerts', 1);
    log.createTopic('dlq', 1);
    const outbox = new MemoryOutbox();
    const key = 'rule=temperature-high,area=st-001';
    await outbox.saveGroups(
      'ops',
      '0',
      new Map([
        [key, '{"key": not json'],
        ['rule=x,area=y', '[]'],
      ]),
    );
    await outbox.sentGroup('ops', key, 7);
    const sink = new RecordingSink('ops');
    const one = notifier(log, outbox, sink);
    await one.start();
    send(log, [alert('st-0012', 'firing', T)]);
    await until(() => sink.got.length === 1);
    await one.stop();
    expect(sink.got.map((n) => [n.id, n.state, n.labels['firing']])).toEqual([
      [`group:${key}:8`, 'firing', 'st-0012'],
    ]);
  });
});
