import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/partitioner.js';
import type { Alert } from '../../src/core/outputs.js';
import { silentLogger } from '../../src/obs/logger.js';
import { createKafka } from '../../src/transport/kafka/client.js';
import { acceptancePipeline } from '../support/acceptance.js';
import { collectUntil, json, readToEnd, uniquePrefix, type Collected } from '../support/kafka.js';
import { clusterTokens } from '../support/script-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
type Nodes = { id: string; partitions: string[] }[];

/**
 * cluster/nodes.sh and the gRPC control plane with three node processes: one owner per partition,
 * commands for a sensor sent to node-1 carried out by its owner, a SIGKILL and a restart, then stop.
 */
describe('cluster of three nodes', () => {
  it(
    'runs 3 nodes, routes commands to the owner, survives a kill and a restart, and stops',
    { timeout: 240_000 },
    async () => {
      const runDir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
      const prefix = uniquePrefix('cluster');
      const base = join(runDir, 'base.yaml');
      writeFileSync(
        base,
        stringify({
          log: { level: 'warn' },
          kafka: { topicPrefix: prefix, groupId: `${prefix}engine`, sessionTimeout: '3s' },
          redis: { keyPrefix: prefix },
          // The drain check compares committed offsets with the partitions' ends: clock records, written
          // on after the drain, would move the ends (the fault campaign runs with them).
          readings: { clock: { interval: 0 } },
          pipeline: acceptancePipeline(),
        }),
      );
      const env = {
        ...process.env,
        VIGIL_RUN_DIR: runDir,
        VIGIL_CLUSTER_CONFIG: base,
        VIGIL_CLUSTER_BASE_PORT: String(17_400 + (process.pid % 500) * 4),
      };
      const nodes = (...args: string[]): string =>
        execFileSync('bash', [join(ROOT, 'cluster/nodes.sh'), ...args], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });

      type Role = 'VIGIL_VIEWER_TOKEN' | 'VIGIL_ADMIN_TOKEN';
      /** The arguments and environment of a `vigil` gRPC command against node-1 with a role's token. */
      const cliCommand = (
        role: Role,
        args: string[],
        node = 1,
      ): { argv: string[]; env: NodeJS.ProcessEnv } => {
        const tokens = clusterTokens(runDir);
        const tls = [
          '--ca',
          join(runDir, 'certs/ca.crt'),
          '--cert',
          join(runDir, 'certs/client.crt'),
          '--key',
          join(runDir, 'certs/client.key'),
        ];
        return {
          argv: [
            'dist/cli/main.js',
            ...args,
            '--json',
            '--node',
            `localhost:${Number(env.VIGIL_CLUSTER_BASE_PORT) + node}`,
            ...tls,
          ],
          env: { ...env, VIGIL_TOKEN: tokens[role] },
        };
      };
      const run = (role: Role, ...args: string[]): string => {
        const c = cliCommand(role, args);
        return execFileSync('node', c.argv, {
          cwd: ROOT,
          env: c.env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      };
      /** Publishes simulated station readings (`vigil simulate` with these options). */
      const simulate = (...args: string[]): void => {
        execFileSync('node', ['dist/cli/main.js', '-c', base, 'simulate', '--rate', '3000', ...args], {
          cwd: ROOT,
          env,
          stdio: 'ignore',
        });
      };
      /** Runs a `vigil` gRPC command against node-1 and returns its JSON. */
      const cli = (role: Role, ...args: string[]): unknown => JSON.parse(run(role, ...args));
      const status = (): Nodes => (cli('VIGIL_VIEWER_TOKEN', 'status') as { nodes: Nodes }).nodes;
      const settle = async (ids: string[]): Promise<Nodes> => {
        for (let i = 0; i < 80; i++) {
          const s = status();
          const owned = s.flatMap((n) => n.partitions);
          // 6 partitions of vigil.readings and 6 of vigil.logs, in one group.
          if (
            s.map((n) => n.id).join() === ids.join() &&
            owned.length === 12 &&
            new Set(owned).size === 12 &&
            s.every((n) => n.partitions.length > 0)
          )
            return s;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`cluster did not settle on ${ids.join(', ')}: ${JSON.stringify(status())}`);
      };

      try {
        nodes('up', '3');
        const three = await settle(['node-1', 'node-2', 'node-3']);
        const everyPartition = ['logs', 'readings'].flatMap((t) =>
          [0, 1, 2, 3, 4, 5].map((p) => `${prefix}vigil.${t}:${p}`),
        );
        expect(three.flatMap((n) => n.partitions).sort()).toEqual(everyPartition);
        expect(nodes('status')).toContain('node-2');
        // Every node's partitions, asked of node-1: each partition once, with its owner. (Polled: a
        // member slow to start can still be rebalanced out and back in just after the first settle.)
        type Listed = { partition: string; owner: string }[];
        const listPartitions = (): Listed =>
          (cli('VIGIL_VIEWER_TOKEN', 'status') as { partitions: Listed }).partitions;
        let listed = listPartitions();
        for (let i = 0; i < 40 && new Set(listed.map((p) => p.owner)).size < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          listed = listPartitions();
        }
        expect(listed.map((p) => p.partition)).toEqual(everyPartition);
        expect(new Set(listed.map((p) => p.owner))).toEqual(new Set(['node-1', 'node-2', 'node-3']));

        // Readings in; then commands for a sensor that node-3 owns, all sent to node-1.
        simulate('--sensors', '30', '--count', '600');
        const node3 = three.find((n) => n.id === 'node-3')?.partitions ?? [];
        const sensor = Array.from({ length: 30 }, (_, i) => `st-${String(i).padStart(4, '0')}`).find((s) =>
          node3.includes(`${prefix}vigil.readings:${partitionForKey(s, 6)}`),
        );
        expect(sensor).toBeDefined();
        let inspected: { node: string; state: { maxTs: number | null } } | undefined;
        for (let i = 0; i < 40 && inspected === undefined; i++) {
          try {
            inspected = cli('VIGIL_VIEWER_TOKEN', 'inspect', sensor ?? '') as typeof inspected;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 250)); // readings still on their way
          }
        }
        expect(inspected?.node).toBe('node-3');
        expect(inspected?.state.maxTs).toBeGreaterThan(0);
        expect(() => cli('VIGIL_VIEWER_TOKEN', 'crash', sensor ?? '')).toThrow(/PERMISSION_DENIED/);
        expect(cli('VIGIL_ADMIN_TOKEN', 'pause', sensor ?? '')).toMatchObject({ node: 'node-3' });
        expect(cli('VIGIL_VIEWER_TOKEN', 'inspect', sensor ?? '')).toMatchObject({
          node: 'node-3',
          paused: true,
        });
        expect(cli('VIGIL_ADMIN_TOKEN', 'resume', sensor ?? '')).toMatchObject({ node: 'node-3' });
        expect(cli('VIGIL_VIEWER_TOKEN', 'inspect', sensor ?? '')).toMatchObject({
          node: 'node-3',
          paused: false,
        });
        expect(cli('VIGIL_ADMIN_TOKEN', 'crash', sensor ?? '')).toMatchObject({ node: 'node-3' });

        // A rule set through node-1 changes the alerts produced on every node.
        expect(() =>
          cli('VIGIL_ADMIN_TOKEN', 'rules', 'set', '{"id":"bad","kind":"threshold","metric":"t"}'),
        ).toThrow(/INVALID_ARGUMENT.*needs `above`, `below` or both/);
        cli(
          'VIGIL_ADMIN_TOKEN',
          'rules',
          'set',
          '{"id":"everything","kind":"threshold","metric":"temperature","above":-1000}',
        );
        // A rule for some sensors, one of them with its own threshold (which its readings never reach).
        cli(
          'VIGIL_ADMIN_TOKEN',
          'rules',
          'set',
          JSON.stringify({
            id: 'scoped',
            kind: 'threshold',
            metric: 'temperature',
            above: -1000,
            sensors: ['st-003?'],
            overrides: { 'st-0033': { above: 1000 } },
          }),
        );
        expect(
          (cli('VIGIL_VIEWER_TOKEN', 'rules', 'list') as { rules: { id: string }[] }).rules.map((r) => r.id),
        ).toEqual(expect.arrayContaining(['everything', 'scoped']));
        await new Promise((resolve) => setTimeout(resolve, 1_200)); // in force everywhere within a second
        // Stations 30..59 are new (30..59 never reported: their sequence numbers cannot repeat earlier ones).
        simulate('--sensors', '60', '--count', '600', '--seed', '2');
        const kafka = createKafka({ brokers: ['127.0.0.1:9092'], clientId: 'cluster-test' }, silentLogger);
        const firedIn = (rs: readonly Collected[]): Set<number> =>
          new Set(
            rs
              .map((r) => json(r) as Alert)
              .filter((a) => a.ruleId === 'everything')
              .map((a) => partitionForKey(a.sensorId, 6)),
          );
        const scopedFired = (rs: readonly Collected[]): string[] =>
          [
            ...new Set(
              rs
                .map((r) => json(r) as Alert)
                .filter((a) => a.ruleId === 'scoped')
                .map((a) => a.sensorId),
            ),
          ].sort();
        const alerts = await collectUntil(
          kafka,
          [`${prefix}vigil.alerts`],
          (rs) => firedIn(rs).size === 6 && scopedFired(rs).length >= 9,
        );
        const partitionsFired = firedIn(alerts);
        expect(partitionsFired.size).toBe(6); // sensors of every partition, so of all three nodes
        // The scoped rule: the sensors it names, but st-0033 (its own threshold), and no other.
        expect(scopedFired(alerts)).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => `st-003${i}`));

        // Alert subscriptions through node-1: the first 15 of the cluster's alerts, then a disconnect.
        const ndjson = (out: string): Alert[] =>
          out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as Alert);
        const first = ndjson(run('VIGIL_VIEWER_TOKEN', 'alerts', '--since', '0', '--count', '15'));
        expect(first).toHaveLength(15);
        // Alerts keep firing while it is away: 30 new stations.
        simulate('--sensors', '90', '--count', '900', '--seed', '3');
        // It reconnects after the last alert it holds and follows until it has what vigil.alerts has.
        const again = cliCommand('VIGIL_VIEWER_TOKEN', ['alerts', '--since', first.at(-1)?.id ?? '']);
        const follower = spawn('node', again.argv, {
          cwd: ROOT,
          env: again.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let followed = '';
        follower.stdout.on('data', (chunk: Buffer) => {
          followed += chunk.toString('utf8');
        });
        const held = (): Alert[] => [...first, ...ndjson(followed.slice(0, followed.lastIndexOf('\n') + 1))];
        let produced = new Set<string>();
        try {
          for (let i = 0; i < 30; i++) {
            const log = await readToEnd(kafka, `${prefix}vigil.alerts`);
            produced = new Set(log.map((r) => (json(r) as Alert).id));
            if (held().length >= produced.size && held().length > first.length) break;
            await new Promise((resolve) => setTimeout(resolve, 1_000));
          }
        } finally {
          follower.kill('SIGINT');
        }
        const ids = held().map((a) => a.id);
        expect(new Set(ids).size).toBe(ids.length); // nothing twice
        expect(new Set(ids)).toEqual(produced); // nothing missing
        // ...and they were produced on the other nodes too.
        const ownerOf = (a: Alert): string | undefined =>
          three.find((n) =>
            n.partitions.includes(`${prefix}vigil.readings:${partitionForKey(a.sensorId, 6)}`),
          )?.id;
        expect(new Set(held().map(ownerOf))).toEqual(new Set(['node-1', 'node-2', 'node-3']));
        expect(cli('VIGIL_ADMIN_TOKEN', 'rules', 'delete', 'everything')).toMatchObject({
          detail: expect.stringContaining('deleted') as unknown,
        });
        expect(
          (cli('VIGIL_VIEWER_TOKEN', 'rules', 'list') as { rules: { id: string }[] }).rules.map((r) => r.id),
        ).not.toContain('everything');
        expect(() => cli('VIGIL_ADMIN_TOKEN', 'rules', 'delete', 'everything')).toThrow(/NOT_FOUND/);

        nodes('kill', '2', 'KILL');
        await settle(['node-1', 'node-3']);
        nodes('restart', '2');
        await settle(['node-1', 'node-2', 'node-3']);

        // Every node's actors, listed through node-1, a page at a time.
        const actors = (...args: string[]): { paths: string[]; nextPageToken: string } =>
          cli('VIGIL_VIEWER_TOKEN', 'actors', ...args) as { paths: string[]; nextPageToken: string };
        // node-2 restarted a moment ago: node-1 may need a moment to reach it again.
        let all = actors('--page-size', '1000').paths;
        for (let i = 0; i < 20 && new Set(all.map((p) => p.split('/')[0])).size < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          all = actors('--page-size', '1000').paths;
        }
        expect(new Set(all.map((p) => p.split('/')[0]))).toEqual(new Set(['node-1', 'node-2', 'node-3']));
        expect(all.filter((p) => p.endsWith('/sensor-st-0042'))).toHaveLength(1);
        const page1 = actors('--filter', 'sensor-', '--page-size', '10');
        const page2 = actors('--filter', 'sensor-', '--page-size', '10', '--page-token', page1.nextPageToken);
        expect(page1.paths).toHaveLength(10);
        expect(page2.paths[0]).toBe(all.filter((p) => p.includes('sensor-'))[10]);

        // Drain node-2 through node-1: final checkpoints, it leaves, and its partitions move without
        // replay (their checkpointed next offsets are already the end of vigil.readings).
        expect(cli('VIGIL_ADMIN_TOKEN', 'drain', 'node-2')).toMatchObject({
          node: 'node-2',
          detail: expect.stringContaining('left the group') as unknown,
        });
        await settle(['node-1', 'node-3']);
        const admin = kafka.admin();
        await admin.connect();
        try {
          const topic = `${prefix}vigil.readings`;
          const ends = (await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]);
          const [committed] = await admin.fetchOffsets({ groupId: `${prefix}engine`, topics: [topic] });
          expect(committed?.partitions.map((o) => [o.partition, o.offset]).sort()).toEqual(ends.sort());
        } finally {
          await admin.disconnect();
        }
        const pid = Number(readFileSync(join(runDir, 'cluster/node-2.pid'), 'utf8'));
        const running = (): boolean => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        };
        for (let i = 0; i < 40 && running(); i++) await new Promise((resolve) => setTimeout(resolve, 250));
        expect(running()).toBe(false); // the drained node's process ended by itself
      } finally {
        nodes('stop');
      }
      expect(() => nodes('status')).toThrow(/no node running/);
    },
  );
});
