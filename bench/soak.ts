/**
 * `npm run soak`: the log soak of test/support/log-soak.ts for as long as asked.
 *
 *   npm run soak -- [--duration 10m] [--seed 1] [--kills 2] [--rate 20]
 *
 * Prints what it ran and every difference between the engine's counts and the files' (none, or it
 * exits 1). Needs the stack and a build, as the integration tests do (it brings both up).
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.js';
import { ROOT } from '../test/support/chaos/cluster.js';
import { logSoak } from '../test/support/log-soak.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    seed: { type: 'string', default: '1' },
    kills: { type: 'string', default: '2' },
    rate: { type: 'string', default: '20' },
  },
});
const durationMs = parseDuration(values.duration) ?? 600_000;
const kills = Number(values.kills);
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
say('== stack and build');
execFileSync('bash', ['cluster/services.sh'], { cwd: ROOT, stdio: 'inherit' });
execFileSync('bash', ['cluster/kafka/start.sh'], { cwd: ROOT, stdio: 'inherit' });
execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
say(
  `== log soak: ${values.duration}, ${kills} kill(s), ${values.rate} lines/s per source, seed ${values.seed}`,
);
const result = await logSoak({
  durationMs,
  seed: Number(values.seed),
  killsAt: Array.from({ length: kills }, (_, i) => (i + 1) / (kills + 1)),
  rate: Number(values.rate),
  say,
});
process.stdout.write(
  `lines ${result.lines}, minutes ${result.minutes} (ERROR-heavy ${result.heavyMinutes}), rotations ${result.rotations}, kills ${result.kills}: ${result.problems.length === 0 ? 'the engine counted exactly what the files hold' : `${result.problems.length} difference(s)`}\n`,
);
for (const p of result.problems) process.stdout.write(`  ${p}\n`);
process.exitCode = result.problems.length === 0 ? 0 : 1;
