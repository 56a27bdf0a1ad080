import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/obs/logger.js';
import { loadVigilProto } from '../../src/transport/grpc/proto.js';
import { RemoteLink } from '../../src/transport/grpc/remoting.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const nodeToken = randomBytes(16).toString('hex');
const viewerToken = randomBytes(16).toString('hex');
const { grpc } = loadVigilProto();

/** Starts test/support/remoting-peer.ts and resolves with its process and port. */
function startPeer(port = 0): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('node', ['--import', 'tsx', 'test/support/remoting-peer.ts'], {
    cwd: ROOT,
    env: { ...process.env, PEER_PORT: String(port), VIGIL_TOKENS: `node=${nodeToken},viewer=${viewerToken}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const m = /port (\d+)/.exec(chunk.toString());
      if (m?.[1] !== undefined) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => {
      reject(new Error(`peer exited with ${String(code)}`));
    });
  });
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });

function link(port: number, token = nodeToken, requestTimeoutMs = 30_000): RemoteLink {
  return new RemoteLink(grpc, {
    nodeId: 'node-a',
    address: `127.0.0.1:${port}`,
    credentials: credentials.createInsecure(),
    token,
    logger: silentLogger,
    requestTimeoutMs,
  });
}

/** The Remoting stream between two processes: batches, replies, errors, roles, reconnects, keepalive. */
// Each test starts a peer process (tsx compiles it): on a busy 2-core machine that alone can take seconds.
describe('Remoting link', { timeout: 30_000 }, () => {
  const children: ChildProcess[] = [];
  const links: RemoteLink[] = [];
  afterEach(async () => {
    for (const l of links.splice(0)) l.close();
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
      await exited(c);
    }
  });
  const peer = async (port = 0): Promise<number> => {
    const p = await startPeer(port);
    children.push(p.child);
    return p.port;
  };
  const open = (port: number, token?: string, timeoutMs?: number): RemoteLink => {
    const l = link(port, token, timeoutMs);
    links.push(l);
    return l;
  };

  it('carries many requests in few batches and matches every reply to its request', async () => {
    const l = open(await peer());
    const answers = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) => l.ask(`sensor-${i}`, 'echo', { n: i })),
    );
    expect(answers).toEqual(
      Array.from({ length: 2_000 }, (_, i) => ({ target: `sensor-${i}`, payload: { n: i } })),
    );
    expect(l.sent.envelopes).toBe(2_000);
    expect(l.sent.batches).toBeLessThanOrEqual(2_000 / 256 + 1);
  });

  it("brings back the remote handler's error with its status", async () => {
    const l = open(await peer());
    await expect(l.ask('sensor-x', 'fail', {})).rejects.toMatchObject({
      grpcCode: status.NOT_FOUND,
      message: 'nothing at sensor-x',
    });
  });

  it('is refused without the node role', async () => {
    const l = open(await peer(), viewerToken);
    await expect(l.ask('sensor-x', 'echo', {})).rejects.toMatchObject({
      code: 'REMOTING_UNAVAILABLE',
      message: expect.stringMatching(/PERMISSION_DENIED.*needs role node/) as unknown,
    });
  });

  it('fails requests when the peer dies and reconnects once it is back', async () => {
    const first = await startPeer();
    children.push(first.child);
    const l = open(first.port);
    expect(await l.ask('a', 'echo', 1)).toEqual({ target: 'a', payload: 1 });
    first.child.kill('SIGKILL');
    await exited(first.child);
    await expect(l.ask('a', 'echo', 2)).rejects.toMatchObject({
      code: 'REMOTING_UNAVAILABLE',
      retriable: true,
    });
    await peer(first.port);
    let answer: unknown;
    for (let i = 0; i < 50 && answer === undefined; i++) {
      answer = await l.ask('a', 'echo', 3).catch(() => new Promise((resolve) => setTimeout(resolve, 200)));
    }
    expect(answer).toEqual({ target: 'a', payload: 3 });
  });

  it('notices a peer that stops answering (SIGSTOP) by keepalive, long before the request timeout', async () => {
    const p = await startPeer();
    children.push(p.child);
    const l = open(p.port, nodeToken, 120_000);
    expect(await l.ask('a', 'echo', 1)).toEqual({ target: 'a', payload: 1 });
    p.child.kill('SIGSTOP');
    try {
      // The request cannot be answered; the keepalive ping fails the stream and with it the request.
      await expect(l.ask('a', 'echo', 2)).rejects.toMatchObject({ code: 'REMOTING_UNAVAILABLE' });
    } finally {
      p.child.kill('SIGCONT');
    }
  }, 60_000);
});
