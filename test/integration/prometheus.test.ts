import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/obs/logger.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { produce, uniquePrefix } from '../support/kafka.js';
import { exited, startNodeProcess, writeConfig } from '../support/node-process.js';
import { freePort } from '../support/ports.js';
import { ROOT } from '../support/chaos/cluster.js';
import { scriptCluster } from '../support/script-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** GET over HTTPS trusting `ca` only, with a client certificate when `cert` and `key` are given. */
function httpsGet(
  url: string,
  tls: { ca: string; cert?: string; key?: string },
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(tls.ca),
        ...(tls.cert === undefined ? {} : { cert: readFileSync(tls.cert) }),
        ...(tls.key === undefined ? {} : { key: readFileSync(tls.key) }),
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * What a Prometheus operator runs: a real Prometheus (Debian's) scrapes two nodes (cluster/nodes.sh)
 * and a bridge with a bearer token (the bridge over HTTPS with client certificates, `http.tls`), loads
 * the shipped rules for Vigil's own health, and answers queries on what it scraped. Every /metrics
 * passes `promtool check metrics`.
 */
describe('what operators run: Prometheus, orchestrator probes', () => {
  const { runDir, grpcBase, env, nodes, tokens: clusterTokens } = scriptCluster('prometheus', 19_600, 300);
  const prefix = uniquePrefix('prom');
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map(exited));
    try {
      nodes('stop');
    } catch {
      // already stopped
    }
    rmSync(runDir, { recursive: true, force: true });
  });

  it(
    'scrapes two nodes and a bridge, loads the health rules, answers queries; a node killed under load is ready only once restored',
    { timeout: 240_000 },
    async () => {
      const base = {
        log: { level: 'warn' },
        kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
        redis: { keyPrefix: prefix },
        pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
      };
      writeFileSync(env.VIGIL_CLUSTER_CONFIG, stringify(base));
      nodes('up', '2');
      const tokens = clusterTokens();
      const viewer = tokens['VIGIL_VIEWER_TOKEN'] ?? '';
      const bridgePort = await freePort();
      const certs = join(runDir, 'certs');
      execFileSync('bash', [join(ROOT, 'cluster/certs.sh'), '--dir', certs, 'bridge', 'prometheus'], {
        stdio: 'ignore',
      });
      const pem = (name: string): string => join(certs, name);
      const bridgeFile = writeConfig(`${prefix}bridge`, {
        ...base,
        http: {
          listen: `127.0.0.1:${bridgePort}`,
          tls: { cert: pem('bridge.crt'), key: pem('bridge.key'), clientCa: pem('ca.crt') },
        },
        mqtt: { topics: [`${prefix}/sensors/+/readings`], shareGroup: prefix.replace(/[^A-Za-z0-9_-]/g, '') },
      });
      process.env['VIGIL_TOKENS'] = `admin=${tokens['VIGIL_ADMIN_TOKEN'] ?? ''},viewer=${viewer}`;
      const bridge = startNodeProcess(`${prefix}bridge`, bridgeFile, 'bridge');
      delete process.env['VIGIL_TOKENS'];
      children.push(bridge);
      const targets = [grpcBase + 101, grpcBase + 102].map((p) => `127.0.0.1:${p}`);
      const bridgeTarget = `127.0.0.1:${bridgePort}`;

      // Each /metrics is valid by Prometheus' own linter.
      const client = { ca: pem('ca.crt'), cert: pem('prometheus.crt'), key: pem('prometheus.key') };
      const scrape = async (target: string): Promise<string> => {
        for (let i = 0; ; i++) {
          try {
            const res =
              target === bridgeTarget
                ? await httpsGet(`https://${target}/metrics`, client, viewer)
                : await fetch(`http://${target}/metrics`, {
                    headers: { authorization: `Bearer ${viewer}` },
                  }).then(async (r) => ({ status: r.status, body: await r.text() }));
            if (res.status === 200) return res.body;
          } catch {
            // not listening yet
          }
          if (i > 100) throw new Error(`${target} serves no /metrics`);
          await sleep(300);
        }
      };
      for (const t of [...targets, bridgeTarget]) {
        const lint = spawnSync('promtool', ['check', 'metrics'], {
          input: await scrape(t),
          encoding: 'utf8',
        });
        expect(`${lint.stdout}${lint.stderr}`, t).toBe('');
        expect(lint.status, t).toBe(0);
      }

      // HTTPS only, and without a client certificate nothing but the probes: the token alone is refused.
      await expect(fetch(`http://${bridgeTarget}/metrics`)).rejects.toThrow();
      const noCert = await httpsGet(`https://${bridgeTarget}/metrics`, { ca: pem('ca.crt') }, viewer);
      expect(noCert.status).toBe(401);
      expect(noCert.body).toMatch(/client certificate signed by http.tls.clientCa is required/);
      expect((await httpsGet(`https://${bridgeTarget}/healthz/live`, { ca: pem('ca.crt') })).status).toBe(
        200,
      );
      let ready = { status: 0, body: '' };
      for (let i = 0; i < 50 && ready.status !== 200; i++) {
        if (i > 0) await sleep(200);
        ready = await httpsGet(`https://${bridgeTarget}/healthz/ready`, { ca: pem('ca.crt') });
      }
      expect(ready).toEqual({ status: 200, body: JSON.stringify({ status: 'ready' }) });

      const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'prometheus-test' }, silentLogger);
      await produce(
        kafka,
        `${prefix}vigil.readings`,
        Array.from({ length: 200 }, (_, i) => ({
          key: `pr-${i % 10}`,
          value: JSON.stringify({
            sensorId: `pr-${i % 10}`,
            ts: Date.now() - 60_000 + i * 100,
            values: { t: i },
          }),
        })),
      );

      const promPort = await freePort();
      const rules = join(ROOT, 'cluster/prometheus/vigil-rules.yml');
      writeFileSync(
        join(runDir, 'prometheus.yml'),
        stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: [rules],
          scrape_configs: [
            { job_name: 'vigil', authorization: { credentials: viewer }, static_configs: [{ targets }] },
            {
              job_name: 'vigil-bridge',
              scheme: 'https',
              authorization: { credentials: viewer },
              tls_config: { ca_file: client.ca, cert_file: client.cert, key_file: client.key },
              static_configs: [{ targets: [bridgeTarget] }],
            },
          ],
        }),
      );
      const prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(runDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(runDir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: 'ignore' },
      );
      children.push(prometheus);
      const query = async (
        q: string,
      ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await res.json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result;
      };
      const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
        for (let i = 0; i < 120; i++) {
          try {
            if (await check()) return;
          } catch {
            // Prometheus not up yet
          }
          await sleep(500);
        }
        throw new Error(`Prometheus: ${what}`);
      };
      await until('three targets up', async () => {
        const up = await query('up');
        return up.length === 3 && up.every((r) => r.value[1] === '1');
      });
      await until('the readings counted', async () => {
        const n = await query('sum(vigil_records_in_total{topic=~".*vigil.readings"})');
        return Number(n[0]?.value[1] ?? 0) >= 200;
      });
      const builds = await query('vigil_build_info');
      expect(builds.map((b) => b.metric['job']).sort()).toEqual(['vigil', 'vigil', 'vigil-bridge']);
      const lag = await query('vigil_consumer_lag_records');
      expect(new Set(lag.map((r) => r.metric['partition'])).size).toBeGreaterThanOrEqual(6); // one label each
      expect(
        lag.every(
          (r) =>
            r.metric['topic']?.endsWith('vigil.readings') === true ||
            r.metric['topic']?.endsWith('vigil.logs') === true,
        ),
      ).toBe(true);
      expect((await query('process_resident_memory_bytes')).length).toBe(3);
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`);
      const groups = (
        (await res.json()) as {
          data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
        }
      ).data.groups;
      const vigil = groups.find((g) => g.name === 'vigil');
      expect(vigil?.rules.map((r) => r.name)).toEqual([
        'VigilNodeDown',
        'VigilConsumerLagGrowing',
        'VigilEventTimeLagging',
        'VigilCheckpointsStale',
        'VigilDeadLettersRising',
      ]);
      await until('the rules evaluated', async () => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`);
        const g = ((await r.json()) as { data: { groups: { name: string; rules: { health: string }[] }[] } })
          .data.groups;
        return g.find((x) => x.name === 'vigil')?.rules.every((x) => x.health === 'ok') === true;
      });

      // Probes, without a token: node-2 SIGKILLed under load and started again is not ready while it
      // rejoins the group and restores its partitions (503, with why), and ready after (200).
      const node2 = `http://127.0.0.1:${grpcBase + 102}`;
      expect((await fetch(`${node2}/healthz/live`)).status).toBe(200);
      expect(await (await fetch(`${node2}/healthz/ready`)).json()).toEqual({ status: 'ready' });
      const state = { loading: true };
      const load = (async () => {
        for (let n = 0; state.loading; n++) {
          await produce(
            kafka,
            `${prefix}vigil.readings`,
            Array.from({ length: 20 }, (_, i) => ({
              key: `ld-${i}`,
              value: JSON.stringify({ sensorId: `ld-${i}`, ts: Date.now(), values: { t: n } }),
            })),
          );
          await sleep(100);
        }
      })();
      nodes('kill', '2');
      const restart = new Promise<void>((resolve, reject) => {
        const p = spawn('bash', [join(ROOT, 'cluster/nodes.sh'), 'restart', '2'], {
          cwd: ROOT,
          env,
          stdio: 'ignore',
        });
        p.once('exit', (code) => {
          if (code === 0) resolve();
          else reject(new Error(`nodes.sh restart 2 exited ${String(code)}`));
        });
      });
      const seen: { status: number; reasons?: string[] }[] = [];
      for (let i = 0; i < 600 && seen.at(-1)?.status !== 200; i++) {
        try {
          const res = await fetch(`${node2}/healthz/ready`);
          const body = (await res.json()) as { reasons?: string[] };
          if (seen.at(-1)?.status !== res.status)
            seen.push({
              status: res.status,
              ...(body.reasons === undefined ? {} : { reasons: body.reasons }),
            });
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      await restart;
      state.loading = false;
      await load;
      expect(seen.map((x) => x.status)).toEqual([503, 200]);
      expect(seen[0]?.reasons?.join('; ')).toMatch(/starting|consumer group|not restored/);
    },
  );
});
