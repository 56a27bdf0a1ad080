import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { acceptanceInput, compare, REFERENCE_CONFIG } from '../support/acceptance.js';
import { acceptanceRawConfig, gatherFromKafka, prepareKafka } from '../support/kafka-run.js';
import { exited, startNodeProcess, waitForProgress, writeConfig } from '../support/node-process.js';
import { reference, type RefOutput } from '../support/reference.js';

const STATIONS = 1_000;
const READINGS = 100_000;

/**
 * The stateful engine's acceptance test on the real stack: a seeded stream of 100,000 readings from
 * 1,000 stations (with repeats, out-of-order, late and malformed records) through a node running as
 * its own process, on Apache Kafka and Redis; everything it produced is compared with the
 * independent reference computation. Once undisturbed, once with a SIGKILL in the middle.
 */
describe('exactly-once on Kafka and Redis against the reference', () => {
  const input = acceptanceInput(STATIONS, READINGS, 2026);
  const sensors = new Set(input.map((r) => r.key));
  let expected: RefOutput;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    expected = reference(input, REFERENCE_CONFIG);
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
  });

  it('an undisturbed node produces exactly the reference outputs', { timeout: 600_000 }, async () => {
    const raw = acceptanceRawConfig('eo-clean', { checkpoint: { interval: '500ms' } });
    const { config, kafka } = await prepareKafka(raw, input);
    const node = startNodeProcess('eo-clean', writeConfig('eo-clean', raw));
    children.push(node);
    await waitForProgress(
      kafka,
      config.kafka.groupId,
      config.kafka.topics.readings,
      (p) => p.committed >= p.end && p.end > 0,
      300_000,
    );
    node.kill('SIGTERM');
    expect(await exited(node)).toBe(0);
    expect(expected.windows.size).toBeGreaterThan(30_000);
    expect(expected.late.size).toBeGreaterThan(300);
    expect(expected.dlq.size).toBeGreaterThan(300);
    expect(compare(await gatherFromKafka(config, kafka, expected, sensors), expected)).toEqual([]);
  });

  it(
    'a node killed with SIGKILL mid-stream and started again: nothing lost, nothing counted twice',
    { timeout: 600_000 },
    async () => {
      const raw = acceptanceRawConfig('eo-kill', { checkpoint: { interval: '500ms' } });
      const { config, kafka } = await prepareKafka(raw, input);
      const file = writeConfig('eo-kill', raw);
      const first = startNodeProcess('eo-kill-1', file);
      children.push(first);
      const at = await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end * 0.4,
        300_000,
      );
      first.kill('SIGKILL');
      await exited(first);
      expect(at.committed).toBeLessThan(at.end);
      const second = startNodeProcess('eo-kill-2', file);
      children.push(second);
      await waitForProgress(
        kafka,
        config.kafka.groupId,
        config.kafka.topics.readings,
        (p) => p.committed >= p.end,
        300_000,
      );
      second.kill('SIGTERM');
      expect(await exited(second)).toBe(0);
      expect(compare(await gatherFromKafka(config, kafka, expected, sensors), expected)).toEqual([]);
    },
  );
});
