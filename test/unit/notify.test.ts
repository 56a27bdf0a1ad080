import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { alertTopic, renderReport, sinkTakes } from '../../src/core/notify.js';
import type { Alert } from '../../src/core/outputs.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { silentLogger } from '../../src/obs/logger.js';
import { labelName, toPostable } from '../../src/transport/notify/alertmanager.js';
import { EmailSink } from '../../src/transport/notify/email.js';
import { FileSink } from '../../src/transport/notify/file-sink.js';
import { Notifier } from '../../src/transport/notify/notifier.js';
import { StandingAlerts } from '../../src/transport/notify/standing.js';
import { DeliveryError, type Sink } from '../../src/transport/notify/sink.js';
import { WebhookSink } from '../../src/transport/notify/webhook.js';
import { MemoryOutbox } from '../../src/ports/memory-outbox.js';
import { until } from '../support/wait.js';

const T = Date.UTC(2026, 10, 23, 15, 1, 0);
const alert = (n: number, over: Partial<Alert> = {}): Alert => ({
  id: n.toString(16).padStart(32, '0'),
  ruleId: 'log-errors',
  kind: 'count',
  sensorId: 'billing',
  metric: 'ERROR',
  state: 'firing',
  severity: 'warning',
  ts: T + n,
  startedAt: T,
  value: 3,
  message: '3 ERROR readings of billing in tumbling-1m, more than 1',
  labels: { team: 'payments' },
  ...over,
});
const withReport = alert(1, {
  report: {
    window: 'tumbling-1m',
    start: T,
    end: T + 60_000,
    counts: { INFO: 40, ERROR: 3, WARN: 2 },
    lines: [
      '15:01:02.000 [main] ERROR a.B - payment failed\n\tat a.B.pay(B.java:9)',
      '15:01:09.000 [main] ERROR a.B - db down',
    ],
    linesOmitted: 1,
  },
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('pure notification helpers', () => {
  it('renders a log report with every level, the ERROR lines and what was left out', () => {
    const text = renderReport(withReport);
    expect(text).toContain('FIRING warning log-errors on billing');
    expect(text).toContain('Lines per level:');
    expect(text).toMatch(/TRACE\s+0\n {2}DEBUG\s+0\n {2}INFO\s+40\n {2}WARN\s+2\n {2}ERROR\s+3/);
    expect(text).toContain(
      'ERROR lines (3):\n  15:01:02.000 [main] ERROR a.B - payment failed\n  \tat a.B.pay',
    );
    expect(text).toContain('… and 1 more not kept');
    expect(renderReport(alert(2))).not.toContain('Window');
  });

  it("maps an alert to Alertmanager's: labels by its rules, the report as an annotation, an end ahead while firing", () => {
    const now = T + 120_000;
    const firing = toPostable(
      { ...withReport, labels: { team: 'payments', 'owner.name': 'x', '9lives': 'y' } },
      'am',
      'https://vigil/#station=billing',
      now,
      240_000,
    );
    expect(firing.labels).toEqual({
      alertname: 'log-errors',
      sensor: 'billing',
      severity: 'warning',
      team: 'payments',
      owner_name: 'x',
      _9lives: 'y',
      vigil_sink: 'am',
    });
    expect(firing.annotations['report']).toBe(`${withReport.report?.lines.join('\n')}\n(1 more lines)`);
    expect([firing.startsAt, firing.endsAt]).toEqual([
      new Date(T).toISOString(),
      new Date(now + 240_000).toISOString(),
    ]);
    const resolved = toPostable(alert(9, { state: 'resolved' }), 'am', '', now, 240_000);
    expect(resolved.endsAt).toBe(new Date(T + 9).toISOString());
    expect(['a-b', 'ok_1', ''].map(labelName)).toEqual(['a_b', 'ok_1', '_']);
  });

  it('fills MQTT topic templates without letting an id add topic levels', () => {
    expect(alertTopic('city/{label.team}/alerts/{sensorId}/{ruleId}', alert(1, { sensorId: 'st/+1' }))).toBe(
      'city/payments/alerts/st__1/log-errors',
    );
    expect(alertTopic('a/{label.none}/{unknown}', alert(1))).toBe('a//{unknown}');
  });

  it('filters by state, severity, rule, sensor and report', () => {
    expect(sinkTakes({ states: ['resolved'] }, alert(1))).toBe(false);
    expect(sinkTakes({ withReport: true }, alert(1))).toBe(false);
    expect(sinkTakes({ withReport: true, rules: ['log-errors'] }, withReport)).toBe(true);
    expect(sinkTakes({}, alert(1))).toBe(true);
  });
});

/** A sink that fails its first `failures` deliveries of each alert, then takes it. */
class FlakySink implements Sink {
  readonly kind = 'test';
  readonly got: string[] = [];
  private readonly tries = new Map<string, number>();
  constructor(
    readonly id: string,
    private readonly failures: number,
    private readonly refuse = false,
  ) {}
  deliver(a: Alert): Promise<void> {
    const n = (this.tries.get(a.id) ?? 0) + 1;
    this.tries.set(a.id, n);
    if (this.refuse) return Promise.reject(new DeliveryError('HTTP 422 unprocessable', { retriable: false }));
    if (n <= this.failures) return Promise.reject(new DeliveryError(`down (${n})`, { retriable: true }));
    this.got.push(a.id);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A sink whose deliveries hang until `open()`: a sink that is down without answering. */
class StuckSink implements Sink {
  readonly kind = 'test';
  readonly got: string[] = [];
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });
  constructor(readonly id: string) {}
  open(): void {
    this.release();
  }
  async deliver(a: Alert): Promise<void> {
    await this.gate;
    this.got.push(a.id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('Notifier', () => {
  it('a failing sink neither blocks the others nor loses an alert; a refused alert goes to the DLQ', async () => {
    const log = new MemoryRecordLog();
    log.createTopic('alerts', 1);
    log.createTopic('dlq', 1);
    const healthy = new FlakySink('healthy', 0);
    const stuck = new StuckSink('stuck');
    const flaky = new FlakySink('flaky', 3);
    const refusing = new FlakySink('refusing', 0, true);
    const notifier = new Notifier({
      sinks: [healthy, stuck, flaky, refusing].map((sink) => ({ sink, filter: {} })),
      outbox: new MemoryOutbox(),
      consumer: log.consumer('notify'),
      topics: { alerts: 'alerts', dlq: 'dlq' },
      producer: log.producer(),
      retry: { initialMs: 20, maxMs: 50, giveUpAfterMs: 60_000, visibilityMs: 5_000 },
      logger: silentLogger,
      idlePollMs: 10,
    });
    await notifier.start();
    const alerts = [1, 2, 3].map((n) => alert(n));
    // The third alert twice, as a replay after a crash writes it: it is delivered once.
    log.append([
      {
        topic: 'alerts',
        messages: [...alerts, alerts[2]].map((a) => ({ key: 'billing', value: JSON.stringify(a) })),
      },
    ]);
    // The stuck sink holds its first alert; the others go on without it.
    await until(() => healthy.got.length === 3);
    await until(() => flaky.got.length === 3);
    expect(stuck.got).toEqual([]);
    stuck.open();
    await until(() => stuck.got.length === 3);
    await until(() => log.partitions('dlq')[0]?.length === 3);
    await notifier.stop();
    expect(healthy.got).toEqual(alerts.map((a) => a.id));
    expect(stuck.got).toEqual(alerts.map((a) => a.id));
    expect(new Set(flaky.got)).toEqual(new Set(alerts.map((a) => a.id)));
    const dead = log.partitions('dlq')[0] ?? [];
    expect(dead.map((r) => String(r.headers['vigil-reason']))).toEqual(
      alerts.map(() => 'refused by sink refusing (test) after 1 attempt(s): HTTP 422 unprocessable'),
    );
    expect(notifier.stats.get('flaky')).toMatchObject({ enqueued: 3, delivered: 3, failures: 9 });
  });
});

/** A sink that keeps firing alerts standing (as Alertmanager's does), failing the first `failFirst` deliveries. */
class ResendingSink implements Sink {
  readonly kind = 'test';
  readonly delivered: Alert[] = [];
  readonly resent: string[][] = [];
  readonly resend: { everyMs: number; send: (alerts: readonly Alert[]) => Promise<void> };
  constructor(
    readonly id: string,
    everyMs: number,
    private failFirst: readonly string[] = [],
    onResend: (alerts: readonly Alert[]) => Promise<void> = () => Promise.resolve(),
  ) {
    this.resend = {
      everyMs,
      send: async (alerts) => {
        this.resent.push(alerts.map((a) => `${a.sensorId}:${a.state}`).sort());
        await onResend(alerts);
      },
    };
  }
  deliver(a: Alert): Promise<void> {
    if (this.failFirst.includes(a.id)) {
      this.failFirst = this.failFirst.filter((id) => id !== a.id);
      return Promise.reject(new DeliveryError('busy', { retriable: true }));
    }
    this.delivered.push(a);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('Notifier: a sink keeping alerts standing', () => {
  it('two nodes send the firing alerts again once per period; a firing retried after its resolve is not sent', async () => {
    const log = new MemoryRecordLog();
    log.createTopic('alerts', 1);
    log.createTopic('dlq', 1);
    const outbox = new MemoryOutbox();
    const firingA = alert(1, { sensorId: 'a', startedAt: T + 1 });
    const resolvedA = alert(2, { sensorId: 'a', startedAt: T + 1, state: 'resolved' });
    const firingB = alert(3, { sensorId: 'b', startedAt: T + 3 });
    // The first delivery of a's firing fails (on either node): it is due again after a's resolve went out.
    const sinks = [new ResendingSink('am', 200, [firingA.id]), new ResendingSink('am', 200, [firingA.id])];
    const notifiers = sinks.map(
      (sink) =>
        new Notifier({
          sinks: [{ sink, filter: {} }],
          outbox,
          consumer: log.consumer('notify'),
          topics: { alerts: 'alerts', dlq: 'dlq' },
          producer: log.producer(),
          retry: { initialMs: 100, maxMs: 100, giveUpAfterMs: 60_000, visibilityMs: 5_000 },
          logger: silentLogger,
          idlePollMs: 10,
        }),
    );
    const started = Date.now();
    for (const n of notifiers) await n.start();
    log.append([
      {
        topic: 'alerts',
        messages: [firingA, resolvedA, firingB].map((a) => ({ key: a.sensorId, value: JSON.stringify(a) })),
      },
    ]);
    const resent = (): string[][] => sinks.flatMap((s) => s.resent);
    await until(() => resent().filter((r) => r.join() === 'b:firing').length >= 3, 10_000);
    for (const n of notifiers) await n.stop();
    const periods = Math.ceil((Date.now() - started) / 200) + 1;
    const delivered = sinks.flatMap((s) => s.delivered.map((a) => `${a.sensorId}:${a.state}`)).sort();
    // a's firing, retried after its resolve was recorded, is stale: Alertmanager never hears it fire.
    expect(delivered).toEqual(['a:resolved', 'b:firing']);
    // Only b is sent again, and at most once per period between the two nodes.
    expect(resent().every((r) => r.join() === 'b:firing' || r.length === 0)).toBe(true);
    expect(resent().length).toBeLessThanOrEqual(periods);
    expect(notifiers.reduce((n, x) => n + (x.stats.get('am')?.coalesced ?? 0), 0)).toBe(1);
  });

  it('a resolve recorded while the firing alerts are sent again is sent after them', async () => {
    const outbox = new MemoryOutbox();
    const firing = alert(1, { sensorId: 'a' });
    const resolved = alert(2, { sensorId: 'a', state: 'resolved' });
    const box: { standing?: StandingAlerts } = {};
    const sink = new ResendingSink('am', 60_000, [], async () => {
      // Another node delivers the resolve while this one's resend is on its way.
      expect(await box.standing?.record(resolved)).toBe(true);
    });
    const standing = new StandingAlerts(sink, outbox, 60_000);
    box.standing = standing;
    expect(await standing.record(firing)).toBe(true);
    expect(await standing.resend()).toBe(1);
    expect(sink.resent).toEqual([['a:firing']]);
    expect(sink.delivered.map((a) => a.id)).toEqual([resolved.id]);
    // A firing delivered before the resolve was recorded, its post landing after: the resolve follows it.
    expect(await standing.overtaken(firing)).toEqual(resolved);
    expect(await standing.record(firing)).toBe(false);
    // Withdrawn (dead-lettered) firing alerts are not sent again.
    const other = alert(3, { sensorId: 'b', startedAt: T + 10 });
    expect(await standing.record(other)).toBe(true);
    await standing.withdraw(other);
    expect(await standing.resend()).toBe(0);
  });
});

describe('sinks', () => {
  it('webhook: POSTs the alert with its idempotency key and signature; maps statuses to retriable or not', async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    let status = 200;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(status, status === 503 ? { 'retry-after': '7' } : {}).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const sink = new WebhookSink({
      id: 'ops',
      kind: 'webhook',
      url,
      timeoutMs: 2_000,
      headers: { 'x-env': 'test' },
      secret: 's3cret',
      filter: {},
    });
    await sink.deliver(withReport);
    const [first] = received;
    expect(first?.headers['idempotency-key']).toBe(withReport.id);
    expect(first?.headers['x-env']).toBe('test');
    expect(first?.headers['x-vigil-signature']).toBe(
      `sha256=${createHmac('sha256', 's3cret')
        .update(first?.body ?? '')
        .digest('hex')}`,
    );
    expect(JSON.parse(first?.body ?? '{}')).toEqual({ alert: withReport });
    status = 503;
    await expect(sink.deliver(withReport)).rejects.toMatchObject({ retriable: true, retryAfterMs: 7_000 });
    status = 422;
    await expect(sink.deliver(withReport)).rejects.toMatchObject({ retriable: false });
    const closed = new WebhookSink({
      id: 'x',
      kind: 'webhook',
      url: 'http://127.0.0.1:1/none',
      timeoutMs: 500,
      headers: {},
      filter: {},
    });
    await expect(closed.deliver(withReport)).rejects.toMatchObject({ retriable: true });
  });

  it('email: sends the report as body and attachment to an SMTP server', async () => {
    const mails: ParsedMail[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            mails.push(mail);
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          smtp.close(() => {
            resolve();
          });
        }),
    );
    const port = (smtp.server.address() as AddressInfo).port;
    const sink = new EmailSink({
      id: 'oncall',
      kind: 'email',
      smtp: { host: '127.0.0.1', port, secure: false, requireTls: false },
      from: 'vigil@example.test',
      to: ['ops@example.test'],
      timeoutMs: 5_000,
      filter: {},
    });
    cleanups.push(() => sink.close());
    await sink.deliver(withReport);
    expect(mails).toHaveLength(1);
    const mail = mails[0];
    expect(mail?.subject).toBe('[Vigil] FIRING warning log-errors on billing');
    expect(mail?.messageId).toBe(`<${withReport.id}@vigil>`);
    expect(mail?.text).toContain('ERROR lines (3):');
    expect(mail?.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([
      [expect.stringMatching(/_billing_log-errors_firing_/), renderReport(withReport)],
    ]);
  });

  it('file: one report file per alert, written whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-reports-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const sink = new FileSink({ id: 'reports', kind: 'file', dir, filter: {} });
    await sink.deliver(withReport);
    await sink.deliver(withReport); // a repeat rewrites the same file
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(readFileSync(join(dir, files[0] ?? ''), 'utf8')).toBe(renderReport(withReport));
  });
});
