import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';
import { prepareKafka } from '../support/kafka-run.js';
import { produce, uniquePrefix } from '../support/kafka.js';
import { exited } from '../support/node-process.js';
import { freePort } from '../support/ports.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string; silencedBy: string[] };
}
interface Notification {
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

/**
 * The alertmanager sink against a real Alertmanager (Debian's), routing to a webhook receiver: an
 * alert appears in its API with Vigil's labels and annotations and reaches the receiver; one silenced
 * in Alertmanager reaches nobody; a firing alert is sent again (its end moves on), across a restart of
 * the node and of Alertmanager; and it resolves.
 */
describe('alertmanager sink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alertmanager-'));
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'posts alerts Alertmanager routes, silences and resolves, sent again while they fire, across a restart',
    { timeout: 180_000 },
    async () => {
      const notifications: Notification[] = [];
      const receiver: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          notifications.push(JSON.parse(body) as Notification);
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => {
        receiver.listen(0, '127.0.0.1', resolve);
      });
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            receiver.close(() => {
              resolve();
            });
          }),
      );
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/am`;
      writeFileSync(
        join(dir, 'alertmanager.yml'),
        stringify({
          route: {
            receiver: 'hook',
            group_by: ['alertname', 'sensor'],
            group_wait: '1s',
            group_interval: '1s',
            repeat_interval: '1h',
          },
          receivers: [{ name: 'hook', webhook_configs: [{ url: hook, send_resolved: true }] }],
        }),
      );
      const amPort = await freePort();
      let am: ChildProcess | undefined;
      const startAlertmanager = (): void => {
        am = spawn(
          'prometheus-alertmanager',
          [
            `--config.file=${join(dir, 'alertmanager.yml')}`,
            `--storage.path=${join(dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${amPort}`,
            '--cluster.listen-address=',
          ],
          { stdio: 'ignore' },
        );
      };
      const stopAlertmanager = async (): Promise<void> => {
        const p = am;
        am = undefined;
        if (p === undefined) return;
        p.kill('SIGTERM');
        await exited(p);
      };
      startAlertmanager();
      cleanups.push(stopAlertmanager);
      const amUrl = `http://127.0.0.1:${amPort}`;
      const amAlerts = async (): Promise<AmAlert[]> => {
        try {
          return (await (await fetch(`${amUrl}/api/v2/alerts`)).json()) as AmAlert[];
        } catch {
          return [];
        }
      };
      const until = async (what: string, check: () => Promise<boolean> | boolean): Promise<void> => {
        for (let i = 0; i < 300; i++) {
          if (await check()) return;
          await sleep(200);
        }
        throw new Error(`timed out: ${what}`);
      };
      const amReady = (): Promise<void> =>
        until(
          'Alertmanager up',
          async () => (await fetch(`${amUrl}/-/ready`).catch(() => undefined))?.ok === true,
        );
      await amReady();

      const prefix = uniquePrefix('am');
      const raw = {
        node: { id: 'am-node' },
        log: { level: 'warn' },
        kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
        redis: { keyPrefix: prefix },
        checkpoint: { interval: '500ms' },
        pipeline: {
          windows: [{ kind: 'tumbling', size: '10s' }],
          rules: [
            {
              id: 'hot',
              kind: 'threshold',
              metric: 'temperature',
              above: 30,
              hysteresis: 1,
              severity: 'critical',
              labels: { team: 'city-ops', 'owner.name': 'night shift' },
            },
          ],
        },
        notify: {
          sinks: [
            {
              id: 'am',
              kind: 'alertmanager',
              url: amUrl,
              resend: '2s',
              dashboard: 'https://vigil.example.com/',
            },
          ],
        },
      };
      const { config, kafka } = await prepareKafka(raw, []);
      let node: RunningNode = await startNode(buildConfig(raw), silentLogger);
      cleanups.push(() => node.stop());
      const reading = (sensorId: string, temperature: number) => ({
        key: sensorId,
        value: JSON.stringify({ sensorId, ts: Date.now(), values: { temperature } }),
      });
      const find = (alerts: AmAlert[], sensor: string) => alerts.find((a) => a.labels['sensor'] === sensor);

      // Firing: in Alertmanager's API with Vigil's labels and annotations, and routed to the receiver.
      await produce(kafka, config.kafka.topics.readings, [reading('am-1', 35)]);
      await until(
        'am-1 in Alertmanager',
        async () => find(await amAlerts(), 'am-1')?.status.state === 'active',
      );
      const fired = find(await amAlerts(), 'am-1');
      expect(fired?.labels).toMatchObject({
        alertname: 'hot',
        sensor: 'am-1',
        severity: 'critical',
        team: 'city-ops',
        owner_name: 'night shift',
        vigil_sink: 'am',
      });
      expect(fired?.annotations['summary']).toMatch(/temperature of am-1 is 35, above 30/);
      expect(fired?.generatorURL).toBe('https://vigil.example.com/#station=am-1');
      await until('am-1 routed to the receiver', () =>
        notifications.some((n) =>
          n.alerts.some((a) => a.labels['sensor'] === 'am-1' && a.status === 'firing'),
        ),
      );

      // Silenced in Alertmanager (a maintenance window): it is there, suppressed, and reaches nobody.
      const silence = await fetch(`${amUrl}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          matchers: [{ name: 'sensor', value: 'am-2', isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          createdBy: 'vigil test',
          comment: 'maintenance of station am-2',
        }),
      });
      expect(silence.status).toBe(200);
      await produce(kafka, config.kafka.topics.readings, [reading('am-2', 40)]);
      await until(
        'am-2 suppressed',
        async () => find(await amAlerts(), 'am-2')?.status.state === 'suppressed',
      );
      await sleep(3_000);
      expect(notifications.some((n) => n.alerts.some((a) => a.labels['sensor'] === 'am-2'))).toBe(false);

      // Sent again while it fires: its end keeps moving on, and on across a restart of the node.
      const endOf = async (): Promise<number> => Date.parse(find(await amAlerts(), 'am-1')?.endsAt ?? '');
      const before = await endOf();
      await until('am-1 sent again', async () => (await endOf()) > before);
      await node.stop();
      node = await startNode(buildConfig(raw), silentLogger);
      const restarted = await endOf();
      await until('am-1 sent again after the restart', async () => (await endOf()) > restarted);

      // Alertmanager restarts (it keeps silences, not alerts): the firing alert is back within a period.
      await stopAlertmanager();
      startAlertmanager();
      await amReady();
      await until(
        'am-1 back in the restarted Alertmanager',
        async () => find(await amAlerts(), 'am-1')?.status.state === 'active',
      );
      expect(find(await amAlerts(), 'am-2')?.status.state).toBe('suppressed');

      // Resolved: the receiver is told, and Alertmanager holds it active no more.
      await produce(kafka, config.kafka.topics.readings, [reading('am-1', 20)]);
      await until('am-1 resolved at the receiver', () =>
        notifications.some((n) =>
          n.alerts.some((a) => a.labels['sensor'] === 'am-1' && a.status === 'resolved'),
        ),
      );
      expect(find(await amAlerts(), 'am-1')?.status.state ?? 'gone').not.toBe('active');
    },
  );
});
