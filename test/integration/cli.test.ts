import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/chaos/cluster.js';

/** `vigil <args>` from dist/, as a user runs it: its exit status and what it printed. */
function vigil(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the vigil command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its version, and exits 2 on a usage error as documented', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(vigil('--version')).toMatchObject({ status: 0, stdout: `${version}\n` });
    const unknown = vigil('--no-such-option');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-option'/);
    expect(vigil('no-such-command').status).toBe(2);
    expect(vigil('query', '--sensors', 's').status).toBe(2); // a required option missing
    const badTime = vigil(
      'query',
      '--sensors',
      's',
      '--metrics',
      't',
      '--from',
      '11/23/2026 15:12',
      '--insecure',
    );
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toMatch(
      /--from "11\/23\/2026 15:12": give a time such as "2026-11-23 15:12:00" \(UTC\)/,
    );
  });

  it('checks a config file: every problem at its file:line:column and exit 2, or valid and exit 0', () => {
    const shipped = vigil('config', 'check', '-c', join(ROOT, 'config/vigil.yaml'));
    expect(shipped.status).toBe(0);
    expect(shipped.stdout).toMatch(/config\/vigil\.yaml: valid \(\d+ window\(s\), \d+ rule\(s\)/);

    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'pipeline:',
        '  windows: [{ kind: tumbling, size: 10q }]',
        '  rules:',
        '    - id: freezer',
        '      kind: threshold',
        '      metric: temperature',
        '      above: -15',
        '      sensors: [fz-*]',
        '      overrides: { cold-1: { above: -10 }, fz-2: { window: x } }',
        'http: { listen: nope }',
      ].join('\n'),
    );
    const bad = vigil('config', 'check', file);
    expect(bad.status).toBe(2);
    expect(bad.stdout.trim().split('\n')).toEqual([
      `${file}:2:37: pipeline.windows[0].size: "10q" is not a duration (use e.g. 500ms, 10s, 5m, 1h)`,
      `${file}:9:28: pipeline.rules[0].overrides.cold-1: cold-1 is not among the sensors the rule judges (fz-*)`,
      `${file}:9:60: pipeline.rules[0].overrides.fz-2.window: not a threshold a sensor can have of its own in a threshold rule (those are: above, below, hysteresis, minDuration)`,
      `${file}:10:17: http.listen: must be host:port`,
      `${file}: 4 problem(s)`,
    ]);
    // A node given the same file stops at once with the first problem, exit 2.
    const node = vigil('-c', file, 'node');
    expect(node.status).toBe(2);
    expect(node.stderr).toMatch(
      /size: "10q" is not a duration .*\(and 3 more problem\(s\): `vigil config check` lists them all\)/,
    );

    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'pipeline:\n  windows: [\n');
    const broken = vigil('config', 'check', '-c', yaml);
    expect(broken.status).toBe(2);
    expect(broken.stdout).toMatch(new RegExp(`^${yaml.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
  });
});
