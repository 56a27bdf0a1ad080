import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Brings up the real stack before the integration tests: Redis and Mosquitto (cluster/services.sh),
 * the foreign clients the tests drive (cluster/tools.sh: kcat, mosquitto_pub) and Kafka in KRaft mode
 * (cluster/kafka/start.sh). Both scripts reuse healthy services, so this is cheap
 * when everything already runs. Nothing is stopped afterwards: the next run reuses it.
 * Tests that run nodes as separate processes run dist/, so the build is brought up to date too.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  for (const script of ['cluster/services.sh', 'cluster/tools.sh', 'cluster/kafka/start.sh']) {
    execFileSync('bash', [script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
