import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './chaos/cluster.js';

/**
 * A Mosquitto of a run's own, on its own port, with the project's broker settings
 * (cluster/mosquitto.conf: a wide in-flight window and deep queues for the bridge), so a measurement
 * does not depend on how the machine's shared broker is configured.
 */
export class OwnMosquitto {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));

  constructor(readonly port: number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const conf = readFileSync(join(ROOT, 'cluster/mosquitto.conf'), 'utf8')
      .replace(/^listener .*$/m, `listener ${this.port} 127.0.0.1`)
      .replace(/^persistence true$/m, 'persistence false');
    writeFileSync(join(this.dir, 'mosquitto.conf'), conf);
    this.child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await open(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`mosquitto did not listen on ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function open(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}
