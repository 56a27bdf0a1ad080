import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const minimal = `
pipeline:
  windows:
    - kind: tumbling
      size: 10s
`;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults and derives topic names from the prefix', () => {
    const c = loadConfigText(minimal, 'vigil.yaml', { VIGIL_TOPIC_PREFIX: 't1.', VIGIL_NODE_ID: 'n1' });
    expect(c.nodeId).toBe('n1');
    expect(c.kafka.topics).toEqual({
      readings: 't1.vigil.readings',
      logs: 't1.vigil.logs',
      alerts: 't1.vigil.alerts',
      aggregates: 't1.vigil.aggregates',
      dlq: 't1.vigil.dlq',
      late: 't1.vigil.late',
    });
    expect(c.kafka.partitions.readings).toBe(6);
    expect(c.pipeline.windows).toEqual([{ kind: 'tumbling', sizeMs: 10_000, name: 'tumbling-10s' }]);
  });

  it('the shipped config file is valid', async () => {
    const { loadConfigFile } = await import('../../src/config/load.js');
    const c = loadConfigFile(new URL('../../config/vigil.yaml', import.meta.url).pathname, {});
    expect(c.pipeline.rules.map((r) => r.id)).toEqual(['temperature-high']);
  });

  it.each([
    ['pipeline: {}', 'pipeline.windows', /expected array|Invalid input/],
    [
      `${minimal}  rules:\n    - { id: r1, kind: threshold, metric: t }\n`,
      'pipeline.rules[0]',
      /needs `above`, `below` or both/,
    ],
    [
      `${minimal}  rules:\n    - { id: r1, kind: threshold, metric: t, above: 1, below: 5 }\n`,
      'pipeline.rules[0]',
      /`below` must be lower/,
    ],
    [`${minimal}  outOfOrderness: soon\n`, 'pipeline.outOfOrderness', /"soon" is not a duration/],
    [
      `${minimal}  rules:\n    - { id: a, kind: threshold, metric: t, above: 1 }\n    - { id: a, kind: threshold, metric: t, above: 2 }\n`,
      'pipeline.rules[1].id',
      /duplicate rule id "a"/,
    ],
    [`kafka:\n  brokers: [localhost]\n${minimal}`, 'kafka.brokers[0]', /must be host:port/],
    [`kafka:\n  partitons: {}\n${minimal}`, 'kafka', /partitons/],
  ])('names the path and the problem: %#', (text, path, message) => {
    const err = errorOf(() => loadConfigText(text, 'f.yaml'));
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/\(f\.yaml:\d+:\d+\)/);
    expect(err.retriable).toBe(false);
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(errorOf(() => loadConfigText('pipeline: [', 'bad.yaml')).message).toMatch(
      /bad\.yaml: not valid YAML/,
    );
  });

  it('rejects a config that is not a mapping', () => {
    expect(errorOf(() => buildConfig([1, 2])).message).toMatch(/must be a mapping/);
  });
});
