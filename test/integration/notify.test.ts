import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { connectAsync } from 'mqtt';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { Alert } from '../../src/core/outputs.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { LogFileWriter, LogLineGenerator, type GeneratedLine } from '../../src/sim/loggen.js';
import { prepareKafka } from '../support/kafka-run.js';
import { collectUntil, json, uniquePrefix } from '../support/kafka.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Hit {
  readonly headers: IncomingHttpHeaders;
  readonly alert: Alert;
  readonly status: number;
}

/** A webhook receiver that answers 503 to the first `failFirst` requests, then 200. */
async function receiver(failFirst: number): Promise<{ server: Server; url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = hits.length < failFirst ? 503 : 200;
      hits.push({ headers: req.headers, alert: (JSON.parse(body) as { alert: Alert }).alert, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits };
}

/**
 * Log lines (from the generator, through a fetcher, vigil.logs and the log pipeline) fire the
 * "more than 1 ERROR in a minute" rule, and its alerts reach every sink: a report file, an email with
 * the report attached (an SMTP server started here), a webhook with the alert id as idempotency key,
 * a webhook that fails at first and gets each alert later exactly once, and a retained MQTT message.
 */
describe('notifications from a log source', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it(
    'reports ERROR windows to a file, by email, to webhooks (one failing at first) and over MQTT',
    { timeout: 180_000 },
    async () => {
      const prefix = uniquePrefix('notify');
      const base = join(ROOT, '.run', 'test-logs', prefix);
      const logDir = join(base, 'logs');
      const reportDir = join(base, 'reports');
      mkdirSync(logDir, { recursive: true });
      cleanups.push(() => {
        rmSync(base, { recursive: true, force: true });
      });

      const mails: ParsedMail[] = [];
      const smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, _session, callback) {
          simpleParser(stream)
            .then((m) => {
              mails.push(m);
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
      const ok = await receiver(0);
      const flaky = await receiver(3);
      const grouped = await receiver(0);
      for (const r of [ok, flaky, grouped])
        cleanups.push(
          () =>
            new Promise((resolve) =>
              r.server.close(() => {
                resolve();
              }),
            ),
        );

      const mqttTopic = `${prefix}alerts/{sensorId}/{ruleId}`;
      const raw = {
        node: { id: `${prefix}node` },
        log: { level: 'warn' },
        kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
        redis: { keyPrefix: prefix },
        checkpoint: { interval: '500ms' },
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
        logs: { sources: [{ id: 'app', dir: logDir }], pollInterval: '100ms', lease: '3s' },
        notify: {
          sinks: [
            { id: 'reports', kind: 'file', dir: reportDir, filter: { withReport: true } },
            {
              id: 'oncall',
              kind: 'email',
              smtp: { host: '127.0.0.1', port: (smtp.server.address() as AddressInfo).port },
              from: 'vigil@example.test',
              to: ['oncall@example.test'],
              filter: { withReport: true },
            },
            { id: 'ops', kind: 'webhook', url: ok.url },
            { id: 'flaky', kind: 'webhook', url: flaky.url },
            { id: 'grouped', kind: 'webhook', url: grouped.url, group: { by: ['rule'], wait: '500ms' } },
            { id: 'displays', kind: 'mqtt', topic: mqttTopic },
          ],
          retry: { initial: '200ms', max: '1s' },
        },
      };
      const { config, kafka } = await prepareKafka(raw, []);

      // Five minutes of event time ending now, a line every 400 ms.
      const gen = new LogLineGenerator({ errorRatio: 0.012, seed: 11, run: 'n' });
      const start = Date.now() - 300_000;
      const lines: GeneratedLine[] = Array.from({ length: 750 }, (_, i) => gen.next(start + i * 400));
      const writer = new LogFileWriter(logDir);
      await writer.init();
      await writer.append(lines);

      // What the rule must do: per closed minute, more than 1 ERROR line fires (and, while firing, is
      // reported again with that minute's lines); 1 or none resolves.
      const last = lines[lines.length - 1]?.ts ?? 0;
      const minutes = new Map<number, GeneratedLine[]>();
      for (const l of lines) {
        const m = Math.floor(l.ts / 60_000) * 60_000;
        if (m + 60_000 > last) continue; // the window of the last line is still open
        minutes.set(m, [...(minutes.get(m) ?? []), l]);
      }
      const expected: {
        state: string;
        startedAt: number;
        window: number;
        errors: GeneratedLine[];
        all: GeneratedLine[];
      }[] = [];
      let firing: number | undefined;
      for (const [m, inMinute] of [...minutes].sort((a, b) => a[0] - b[0])) {
        const errors = inMinute.filter((l) => l.level === 'ERROR');
        if (errors.length > 1) {
          firing ??= m;
          expected.push({ state: 'firing', startedAt: firing, window: m, errors, all: inMinute });
        } else if (firing !== undefined) {
          expected.push({ state: 'resolved', startedAt: firing, window: m, errors, all: inMinute });
          firing = undefined;
        }
      }
      expect(expected.filter((e) => e.state === 'firing').length).toBeGreaterThan(0);

      const node: RunningNode = await startNode(buildConfig(raw), silentLogger);
      cleanups.push(() => node.stop());
      const alerts = (
        await collectUntil(kafka, [config.kafka.topics.alerts], (rs) => rs.length >= expected.length, {
          timeoutMs: 90_000,
          settleMs: 1_000,
        })
      ).map((r) => json(r) as Alert);
      expect(alerts.map((a) => [a.sensorId, a.ruleId, a.state, a.startedAt])).toEqual(
        expected.map((e) => ['app', 'log-errors', e.state, e.startedAt]),
      );
      const fired = alerts.filter((a) => a.state === 'firing');
      for (const a of fired) {
        const e = expected.find((x) => x.state === 'firing' && x.window === a.report?.start);
        expect(a.report?.lines).toEqual(e?.errors.map((l) => l.text));
        expect(a.report?.counts['ERROR']).toBe(e?.errors.length);
        expect(Object.values(a.report?.counts ?? {}).reduce((x, y) => x + y, 0)).toBe(e?.all.length);
      }

      const waitFor = async (what: string, check: () => boolean): Promise<void> => {
        const deadline = Date.now() + 60_000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`${what}: not in time`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const delivered = (hits: Hit[]) => hits.filter((h) => h.status === 200).map((h) => h.alert.id);
      await waitFor('webhook', () => delivered(ok.hits).length >= alerts.length);
      await waitFor('failing webhook', () => delivered(flaky.hits).length >= alerts.length);
      await waitFor('email', () => mails.length >= fired.length);
      await waitFor(
        'report files',
        () => readdirSync(reportDir).filter((f) => f.endsWith('.txt')).length >= fired.length,
      );

      // Webhooks: each alert once, keyed by its id; the failing one got each alert later, once.
      expect(ok.hits.map((h) => h.headers['idempotency-key'])).toEqual(alerts.map((a) => a.id));
      expect(ok.hits.map((h) => h.alert)).toEqual(alerts);
      expect(flaky.hits.slice(0, 3).map((h) => h.status)).toEqual([503, 503, 503]);
      expect(delivered(flaky.hits).sort()).toEqual(alerts.map((a) => a.id).sort());

      // The grouped webhook: the rule's alerts as one group whose every state change is a version; it
      // is told at least the last, as the group is then (changes within the wait are sent as one).
      const groupId = (v: number) => `group:rule=log-errors:${v}`;
      await waitFor('grouped webhook', () => grouped.hits.some((h) => h.alert.id === groupId(alerts.length)));
      const told = grouped.hits.map((h) => h.alert);
      expect(new Set(told.map((a) => a.id)).size).toBe(told.length);
      expect(
        told.every((a) => a.id.startsWith('group:rule=log-errors:') && a.sensorId === 'rule=log-errors'),
      ).toBe(true);
      expect(told.length).toBeLessThanOrEqual(alerts.length);
      const lastAlert = alerts[alerts.length - 1];
      expect(told[told.length - 1]).toMatchObject({
        state: lastAlert?.state,
        value: lastAlert?.state === 'firing' ? 1 : 0,
        labels: { firing: lastAlert?.state === 'firing' ? 'app' : '' },
      });

      // The report file and the email carry the same report, with the window's ERROR lines.
      const files = readdirSync(reportDir).filter((f) => f.endsWith('.txt'));
      expect(files).toHaveLength(fired.length);
      for (const a of fired) {
        const report = readFileSync(
          join(reportDir, files.find((f) => f.includes(a.id.slice(0, 12))) ?? ''),
          'utf8',
        );
        for (const line of a.report?.lines ?? []) expect(report).toContain(line);
        expect(report).toMatch(/Lines per level:\n {2}TRACE/);
        const mail = mails.find((m) => m.messageId === `<${a.id}@vigil>`);
        expect(mail?.subject).toBe(`[Vigil] FIRING warning log-errors on app`);
        expect(mail?.attachments[0]?.content.toString()).toBe(report);
      }

      // The display topic holds the latest state of the rule on this source, retained.
      const client = await connectAsync(config.mqtt.url);
      try {
        const retained = new Promise<Alert>((resolve) => {
          client.on('message', (_topic, payload) => {
            resolve(JSON.parse(payload.toString()) as Alert);
          });
        });
        await client.subscribeAsync(`${prefix}alerts/app/log-errors`, { qos: 1 });
        expect(await retained).toEqual(alerts[alerts.length - 1]);
      } finally {
        await client.endAsync();
      }
    },
  );
});
