import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { clients, unary } from '../../../src/cli/grpc-client.js';
import type { ListNodesResponse__Output } from '../../../src/gen/vigil/v1/ListNodesResponse.js';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface Member {
  readonly id: string;
  readonly partitions: readonly string[];
}

/**
 * N node processes run by cluster/nodes.sh in a run directory of their own (ports, certificates,
 * tokens, logs), with gRPC clients to each: the harness's hands on the cluster.
 */
export class LocalCluster {
  readonly runDir = mkdtempSync(join(tmpdir(), 'vigil-chaos-'));
  readonly basePort: number;
  /** Peers dial node I at ADVERTISE_BASE+I, where LinkProxies forwards to it. */
  get advertiseBasePort(): number {
    return this.basePort + 16;
  }
  private readonly env: NodeJS.ProcessEnv;
  private tokens: Record<string, string> = {};

  constructor(
    readonly size: number,
    raw: Record<string, unknown>,
  ) {
    this.basePort = 18_400 + (process.pid % 200) * 32;
    const base = join(this.runDir, 'base.yaml');
    this.writeConfig(raw);
    this.env = {
      ...process.env,
      VIGIL_RUN_DIR: this.runDir,
      VIGIL_CLUSTER_CONFIG: base,
      VIGIL_CLUSTER_BASE_PORT: String(this.basePort),
      VIGIL_CLUSTER_ADVERTISE_BASE_PORT: String(this.advertiseBasePort),
    };
  }

  /** The base config every node starts from (nodes.sh adds each node's gRPC section). */
  writeConfig(raw: Record<string, unknown>): void {
    writeFileSync(join(this.runDir, 'base.yaml'), stringify(raw));
  }

  /** Runs `cluster/nodes.sh <args>`; resolves with its stdout. */
  async nodes(...args: string[]): Promise<string> {
    const { stdout } = await run('bash', [join(ROOT, 'cluster/nodes.sh'), ...args], {
      cwd: ROOT,
      env: this.env,
      encoding: 'utf8',
    });
    return stdout;
  }

  async up(): Promise<void> {
    await this.nodes('up', String(this.size));
    this.tokens = Object.fromEntries(
      readFileSync(join(this.runDir, 'cluster/tokens.env'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
  }

  pid(i: number): number {
    return Number(readFileSync(join(this.runDir, `cluster/node-${i}.pid`), 'utf8'));
  }

  signal(i: number, signal: NodeJS.Signals): void {
    process.kill(this.pid(i), signal);
  }

  log(i: number): string {
    return readFileSync(join(this.runDir, `cluster/node-${i}.log`), 'utf8');
  }

  /** gRPC clients to node `i` with a role's token (mTLS with the cluster's client certificate). */
  connect(i: number, role: 'admin' | 'viewer' = 'viewer'): ReturnType<typeof clients> {
    const certs = join(this.runDir, 'certs');
    return clients({
      address: `localhost:${this.basePort + i}`,
      ca: join(certs, 'ca.crt'),
      cert: join(certs, 'client.crt'),
      key: join(certs, 'client.key'),
      token: role === 'admin' ? this.tokens['VIGIL_ADMIN_TOKEN'] : this.tokens['VIGIL_VIEWER_TOKEN'],
    });
  }

  /** The live members as node `via` sees them (membership), or undefined if it does not answer. */
  async members(via: number): Promise<Member[] | undefined> {
    const c = this.connect(via);
    try {
      const res = await unary<object, ListNodesResponse__Output>(
        c.control.listNodes.bind(c.control),
        {},
        c.metadata,
        2_000,
      );
      return res.nodes.map((n) => ({ id: n.id, partitions: n.partitions }));
    } catch {
      return undefined;
    } finally {
      c.control.close();
      c.query.close();
      c.alerts.close();
    }
  }
}

/**
 * Every one of `partitions` owned by exactly one live node. A killed node's entry stays in the
 * membership until its lease expires; it is not looked at.
 */
export function ownedBy(members: readonly Member[], live: readonly string[], partitions: number): boolean {
  const owners = new Set<string>();
  for (const m of members) {
    if (!live.includes(m.id)) continue;
    for (const p of m.partitions) {
      if (owners.has(p)) return false;
      owners.add(p);
    }
  }
  return owners.size === partitions;
}

/**
 * A redis-server of the campaign's own, persisting every write before it answers (AOF, fsync
 * always), so it can be killed and started again like a production Redis: what it acknowledged
 * survives, the rest never happened.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;
  readonly url: string;

  constructor(
    private readonly port: number,
    private readonly dir: string,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
    mkdirSync(dir, { recursive: true });
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir],
        ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      try {
        await run('redis-cli', ['-p', String(this.port), 'ping']);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** SIGKILL: no shutdown save, only what the AOF already holds survives. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  }
}

/**
 * TCP proxies the nodes dial each other through (each node advertises its proxy's port): cutting
 * node I's proxy cuts every Remoting link to node I, as a network partition would, while Kafka,
 * Redis and the harness's own clients still reach it directly.
 */
export class LinkProxies {
  private readonly servers: Server[] = [];
  private readonly sockets = new Map<number, Set<Socket>>();
  private readonly cut = new Set<number>();

  constructor(
    readonly basePort: number,
    private readonly targetBasePort: number,
  ) {}

  async start(nodes: number): Promise<void> {
    for (let i = 1; i <= nodes; i++) {
      const open = new Set<Socket>();
      this.sockets.set(i, open);
      const server = createServer((client) => {
        if (this.cut.has(i)) {
          client.destroy();
          return;
        }
        const upstream = connect(this.targetBasePort + i, '127.0.0.1');
        open.add(client);
        open.add(upstream);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          open.delete(client);
          open.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server.listen(this.basePort + i, '127.0.0.1', resolve));
      this.servers.push(server);
    }
  }

  /** Every link to node `i` breaks, and new ones are refused, until `restore(i)`. */
  sever(i: number): void {
    this.cut.add(i);
    for (const s of this.sockets.get(i) ?? []) s.destroy();
  }

  restore(i: number): void {
    this.cut.delete(i);
  }

  async close(): Promise<void> {
    for (const set of this.sockets.values()) for (const s of set) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
