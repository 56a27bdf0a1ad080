import type { Command } from 'commander';
import type { Metadata } from '@grpc/grpc-js';
import { VigilError } from '../core/errors.js';
import { INSTANT_FORMS, parseInstantText } from '../core/instant.js';
import type { Ack__Output } from '../gen/vigil/v1/Ack.js';
import type { AlertsClient } from '../gen/vigil/v1/Alerts.js';
import type { ControlClient } from '../gen/vigil/v1/Control.js';
import type { InspectActorResponse__Output } from '../gen/vigil/v1/InspectActorResponse.js';
import type { ListActorsResponse__Output } from '../gen/vigil/v1/ListActorsResponse.js';
import type { ListNodesResponse__Output } from '../gen/vigil/v1/ListNodesResponse.js';
import type { ListPartitionsResponse__Output } from '../gen/vigil/v1/ListPartitionsResponse.js';
import type { ListRulesResponse__Output } from '../gen/vigil/v1/ListRulesResponse.js';
import type { QueryClient } from '../gen/vigil/v1/Query.js';
import type { Rule__Output } from '../gen/vigil/v1/Rule.js';
import type { WindowMetricsResponse__Output } from '../gen/vigil/v1/WindowMetricsResponse.js';
import { clients, unary } from './grpc-client.js';
import { writeLine } from './output.js';

/**
 * The commands that talk to a running node over gRPC: status, actors, inspect, pause, resume, rules,
 * query, drain, crash. Connection: --node, mTLS files or --insecure, the token from VIGIL_TOKEN.
 */
export interface ConnectionOptions {
  node: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  json?: boolean;
}

export function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--node <host:port>', "a node's gRPC address", process.env['VIGIL_NODE'] ?? '127.0.0.1:7400')
    .option('--ca <file>', 'cluster CA certificate (mTLS)', process.env['VIGIL_TLS_CA'])
    .option('--cert <file>', 'client certificate (mTLS)', process.env['VIGIL_TLS_CERT'])
    .option('--key <file>', 'client key (mTLS)', process.env['VIGIL_TLS_KEY'])
    .option('--insecure', 'plain text, for a development node only')
    .option('--json', 'print JSON for scripts');
}

function connect(o: ConnectionOptions): ReturnType<typeof clients> {
  return clients({
    address: o.node,
    token: process.env['VIGIL_TOKEN'],
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.cert === undefined ? {} : { cert: o.cert }),
    ...(o.key === undefined ? {} : { key: o.key }),
    ...(o.insecure === undefined ? {} : { insecure: o.insecure }),
  });
}

export interface Clients {
  readonly control: ControlClient;
  readonly query: QueryClient;
  readonly alerts: AlertsClient;
  readonly metadata: Metadata;
}

/** Connects, runs `work`, and always closes the channels. */
export async function withClients(o: ConnectionOptions, work: (c: Clients) => Promise<void>): Promise<void> {
  const c = connect(o);
  try {
    await work(c);
  } finally {
    c.control.close();
    c.query.close();
    c.alerts.close();
  }
}

/**
 * `--from "2026-11-23 15:12:00"` (UTC), `2026-11-23T15:12:00+01:00` or epoch milliseconds: read
 * exactly as the HTTP and gRPC APIs read times (core/instant.ts), never in the local time zone.
 */
export function parseTime(t: string, option: string): number {
  const ms = parseInstantText(t);
  if (ms === undefined) throw new VigilError(`--${option} "${t}": give ${INSTANT_FORMS}`, { code: 'USAGE' });
  return ms;
}

/** The cluster as one node sees it: its nodes, partitions and actors. */
function addStatusCommands(cli: Command): void {
  connectionOptions(cli.command('status'))
    .description(
      'the cluster as a node sees it: nodes, and every partition with its owner and state (token: VIGIL_TOKEN)',
    )
    .action(async (o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const nodes = await unary<object, ListNodesResponse__Output>(
          control.listNodes.bind(control),
          {},
          metadata,
        );
        const parts = await unary<object, ListPartitionsResponse__Output>(
          control.listPartitions.bind(control),
          {},
          metadata,
        );
        if (o.json === true) {
          writeLine(JSON.stringify({ nodes: nodes.nodes, partitions: parts.partitions }));
          return;
        }
        for (const n of nodes.nodes)
          writeLine(`${n.id.padEnd(16)} ${n.address.padEnd(22)} ${n.partitions.join(' ')}`);
        for (const p of parts.partitions)
          writeLine(
            `  ${p.partition.padEnd(40)} ${p.owner.padEnd(12)} ${p.state.padEnd(7)} epoch ${p.epoch}  next offset ${p.offset}`,
          );
      });
    });

  connectionOptions(cli.command('actors'))
    .description(
      'the actors of every node (node/partition/bucket/sensor paths), a page at a time (token: VIGIL_TOKEN)',
    )
    .option('--filter <text>', 'only paths containing this text', '')
    .option('--page-size <n>', 'paths per page (at most 1000)', '100')
    .option('--page-token <token>', 'the next page, as the previous page said', '')
    .action(async (o: ConnectionOptions & { filter: string; pageSize: string; pageToken: string }) => {
      await withClients(o, async ({ control, metadata }) => {
        const res = await unary<object, ListActorsResponse__Output>(
          control.listActors.bind(control),
          { filter: o.filter, pageSize: Number(o.pageSize), pageToken: o.pageToken },
          metadata,
        );
        if (o.json === true) writeLine(JSON.stringify(res));
        else {
          for (const p of res.paths) writeLine(p);
          if (res.nextPageToken !== '') writeLine(`(more: --page-token ${res.nextPageToken})`);
        }
      });
    });
}

/** Window metrics over an interval, and a sensor's live state. */
function addReadCommands(cli: Command): void {
  connectionOptions(cli.command('query'))
    .description('window metrics of sensors over [from, to), to the millisecond (token: VIGIL_TOKEN)')
    .requiredOption('--sensors <ids>', 'comma-separated sensor ids')
    .requiredOption('--metrics <names>', 'comma-separated metrics')
    .requiredOption('--from <time>', '"2026-11-23 15:12:00" (UTC), ISO 8601 with an offset, or epoch ms')
    .option('--to <time>', 'the same forms (default: now)')
    .option('--aggregates <names>', 'comma-separated, e.g. count,mean,p95 (default: all)')
    .action(
      async (
        o: ConnectionOptions & {
          sensors: string;
          metrics: string;
          from: string;
          to?: string;
          aggregates?: string;
        },
      ) => {
        await withClients(o, async ({ query, metadata }) => {
          const answer = await unary<object, WindowMetricsResponse__Output>(
            query.windowMetrics.bind(query),
            {
              sensorIds: o.sensors.split(','),
              metrics: o.metrics.split(','),
              from: String(parseTime(o.from, 'from')),
              to: String(o.to === undefined ? Date.now() : parseTime(o.to, 'to')),
              aggregates: o.aggregates === undefined ? [] : o.aggregates.split(','),
            },
            metadata,
          );
          for (const note of answer.notes) process.stderr.write(`note: ${note}\n`);
          if (o.json === true) writeLine(JSON.stringify(answer.series));
          else
            for (const s of answer.series)
              writeLine(
                `${s.sensorId}  ${s.metric}  ${Object.entries(s.values)
                  .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`)
                  .join(' ')}`,
              );
        });
      },
    );

  connectionOptions(cli.command('inspect'))
    .description(
      "a sensor's live state, read on the node that owns it (any node forwards) (token: VIGIL_TOKEN)",
    )
    .argument('<sensor>', 'sensor id')
    .action(async (sensor: string, o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const res = await unary<object, InspectActorResponse__Output>(
          control.inspectActor.bind(control),
          { sensorId: sensor },
          metadata,
        );
        writeLine(
          o.json === true
            ? JSON.stringify({
                node: res.node,
                path: res.path,
                paused: res.paused,
                state: JSON.parse(res.stateJson) as unknown,
              })
            : `${res.node}  ${res.path}\n${res.stateJson}`,
        );
      });
    });
}

/** The rules in force in the cluster. */
function addRuleCommands(cli: Command): void {
  const rules = cli
    .command('rules')
    .description('rules in force in the cluster (list: viewer; set, delete: admin)');

  connectionOptions(rules.command('list'))
    .description('the rules in force and their version')
    .action(async (o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const res = await unary<object, ListRulesResponse__Output>(
          control.listRules.bind(control),
          {},
          metadata,
        );
        if (o.json === true)
          writeLine(
            JSON.stringify({
              version: res.version,
              rules: res.rules.map((r) => ({ id: r.id, spec: JSON.parse(r.specJson) as unknown })),
            }),
          );
        else for (const r of res.rules) writeLine(`${r.id.padEnd(24)} ${r.specJson}`);
      });
    });

  connectionOptions(rules.command('set'))
    .description("add or replace a rule, given as JSON in the config file's rule form")
    .argument('<json>', 'e.g. {"id":"hot","kind":"threshold","metric":"temperature","above":30}')
    .action(async (json: string, o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const rule = await unary<object, Rule__Output>(
          control.setRule.bind(control),
          { specJson: json },
          metadata,
        );
        writeLine(
          o.json === true ? JSON.stringify(rule) : `rule ${rule.id} in force (rules version ${rule.version})`,
        );
      });
    });

  connectionOptions(rules.command('delete'))
    .description('delete a rule in force')
    .argument('<id>', 'rule id')
    .action(async (id: string, o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const ack = await unary<object, Ack__Output>(control.deleteRule.bind(control), { id }, metadata);
        writeLine(o.json === true ? JSON.stringify(ack) : ack.detail);
      });
    });
}

/** Commands that change things (admin): pause, resume and crash a sensor, drain a node. */
function addSensorCommands(cli: Command): void {
  for (const command of ['pause', 'resume'] as const) {
    connectionOptions(cli.command(command))
      .description(
        command === 'pause'
          ? "hold a sensor's readings (admin); nothing is lost, they wait in its state"
          : 'process the held readings and go on (admin)',
      )
      .argument('<sensor>', 'sensor id')
      .action(async (sensor: string, o: ConnectionOptions) => {
        await withClients(o, async ({ control, metadata }) => {
          const fn =
            command === 'pause' ? control.pauseSensor.bind(control) : control.resumeSensor.bind(control);
          const ack = await unary<object, Ack__Output>(fn, { sensorId: sensor }, metadata);
          writeLine(o.json === true ? JSON.stringify(ack) : `${ack.node}: ${ack.detail}`);
        });
      });
  }

  connectionOptions(cli.command('drain'))
    .description(
      'drain a node (admin): final checkpoints, then it leaves the group and the cluster, and its partitions move without replay',
    )
    .argument('<node-id>', 'the node to drain')
    .action(async (nodeId: string, o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const ack = await unary<object, Ack__Output>(
          control.drainNode.bind(control),
          { nodeId },
          metadata,
          60_000,
        );
        writeLine(o.json === true ? JSON.stringify(ack) : `${ack.node}: ${ack.detail}`);
      });
    });

  connectionOptions(cli.command('expect'))
    .description(
      'declare sensors expected to report (admin): the silence rules watch them from now, so one that never reports is alerted too',
    )
    .argument('<sensors...>', 'sensor ids')
    .action(async (sensors: string[], o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const ack = await unary<object, Ack__Output>(
          control.expectSensors.bind(control),
          { sensorIds: sensors },
          metadata,
        );
        writeLine(o.json === true ? JSON.stringify(ack) : `${ack.node}: ${ack.detail}`);
      });
    });

  connectionOptions(cli.command('crash'))
    .description('fault injection (admin): crash a sensor actor on its node; it restores from its checkpoint')
    .argument('<sensor>', 'sensor id')
    .action(async (sensor: string, o: ConnectionOptions) => {
      await withClients(o, async ({ control, metadata }) => {
        const ack = await unary<object, Ack__Output>(
          control.crashActor.bind(control),
          { sensorId: sensor },
          metadata,
        );
        writeLine(o.json === true ? JSON.stringify(ack) : `${ack.node}: ${ack.detail}`);
      });
    });
}

/** The commands that talk to a running node over gRPC. */
export function addClusterCommands(cli: Command): void {
  addStatusCommands(cli);
  addReadCommands(cli);
  addRuleCommands(cli);
  addSensorCommands(cli);
}
