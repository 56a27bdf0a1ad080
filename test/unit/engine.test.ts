import { describe, expect, it } from 'vitest';
import { parseRule } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import { startEmbedded } from '../../src/node/node.js';
import type { RecordConsumer } from '../../src/ports/record-log.js';
import { MemoryRecordLog } from '../../src/ports/memory-record-log.js';
import { silentLogger } from '../../src/obs/logger.js';
import { MemoryStateStore } from '../../src/ports/memory-state-store.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import {
  acceptanceInput,
  acceptancePipeline,
  compare,
  PARTITIONS,
  REFERENCE_CONFIG,
  type InputRecord,
} from '../support/acceptance.js';
import { embeddedConfig, feed, gather, sensorsOf, settled } from '../support/embedded.js';
import { reference, type RefOutput } from '../support/reference.js';

/**
 * The engine in embedded mode (in-memory log and state store) against the independent reference:
 * the same semantics the Kafka + Redis acceptance test checks, fast enough for every unit run.
 */
describe('engine (embedded) against the reference computation', () => {
  const input = acceptanceInput(150, 15_000, 11);
  const expected = reference(input, REFERENCE_CONFIG);

  it('produces exactly the reference results, alerts, rollups, late records and dead letters', async () => {
    const config = embeddedConfig();
    const node = await startEmbedded(config, silentLogger);
    feed(node.records, config, input);
    await settled(node.records, config);
    await node.stop();
    expect(expected.windows.size).toBeGreaterThan(1_000);
    expect(expected.late.size).toBeGreaterThan(20);
    expect(expected.dlq.size).toBeGreaterThan(20);
    expect([...expected.alerts.values()].filter((a) => a.ruleId === 'busy').length).toBeGreaterThan(0);
    expect(compare(await gather(node.records, config, node.store, sensorsOf(input)), expected)).toEqual([]);
    expect(node.engine.stats.duplicates).toBeGreaterThan(50);
  });

  it(
    'sensors made dormant between bursts (state left in the store) give exactly the reference results',
    { timeout: 30_000 },
    async () => {
      // Passivate everything idle for 1 ms: between the bursts below, every sensor is stopped after a
      // checkpoint and loaded again from the store by its next reading.
      const config = embeddedConfig({ engine: { buckets: 8, passivateAfter: '1ms' } });
      const node = await startEmbedded(config, silentLogger);
      const bursts = 5;
      const size = Math.ceil(input.length / bursts);
      for (let b = 0; b < bursts; b++) {
        feed(node.records, config, input.slice(b * size, (b + 1) * size));
        await settled(node.records, config);
        const before = node.engine.stats.passivations;
        for (let i = 0; i < 300 && node.engine.stats.passivations === before; i++)
          await new Promise((resolve) => setTimeout(resolve, 20));
        // Only the partition actors and their buckets are left (vigil.readings' and vigil.logs').
        const { readings, logs } = config.kafka.partitions;
        expect(node.engine.actorCount).toBe((readings + logs) * (1 + 8));
      }
      await node.stop();
      expect(node.engine.stats.passivations).toBeGreaterThanOrEqual(150 * (bursts - 1));
      expect(compare(await gather(node.records, config, node.store, sensorsOf(input)), expected)).toEqual([]);
    },
  );

  it('a crashed sensor actor restores from its checkpoint and replays; no result is lost or doubled', async () => {
    const config = embeddedConfig();
    const node = await startEmbedded(config, silentLogger);
    const half = Math.floor(input.length / 2);
    feed(node.records, config, input.slice(0, half));
    await settled(node.records, config);
    feed(node.records, config, input.slice(half, half + 500)); // events since the last checkpoint, to replay
    await new Promise((resolve) => setTimeout(resolve, 30));
    await node.engine.crashSensor('st-0007');
    await node.engine.crashSensor('st-0042');
    feed(node.records, config, input.slice(half + 500));
    await settled(node.records, config);
    await node.stop();
    expect(node.engine.stats.recoveries).toBe(2);
    expect(node.engine.stats.resets).toBe(0);
    expect(compare(await gather(node.records, config, node.store, sensorsOf(input)), expected)).toEqual([]);
  });

  it('after an abrupt stop, a new engine resumes from the checkpoints: nothing lost, nothing counted twice', async () => {
    const config = embeddedConfig();
    const log = new MemoryRecordLog();
    const store = new MemoryStateStore();
    const first = await startEmbedded(config, silentLogger, log, store);
    feed(log, config, input.slice(0, 9_000));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await first.engine.abort(); // no final checkpoint: the replay must not double anything
    const processedBefore = first.engine.stats.records;
    const second = await startEmbedded(config, silentLogger, log, store);
    feed(log, config, input.slice(9_000));
    await settled(log, config);
    await second.stop();
    expect(processedBefore).toBeGreaterThan(0);
    expect(compare(await gather(log, config, store, sensorsOf(input)), expected)).toEqual([]);
  });

  it("a zombie's checkpoints are refused once another owner took its partitions", async () => {
    const config = embeddedConfig();
    const log = new MemoryRecordLog();
    const store = new MemoryStateStore();
    const zombie = await startEmbedded(config, silentLogger, log, store);
    feed(log, config, input.slice(0, 3_000));
    await settled(log, config);
    const owner = await startEmbedded(
      { ...config, kafka: { ...config.kafka, groupId: 'owner' } },
      silentLogger,
      log,
      store,
    );
    feed(log, config, input.slice(3_000));
    await settled(log, { ...config, kafka: { ...config.kafka, groupId: 'owner' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await zombie.stop();
    await owner.stop();
    expect(zombie.engine.stats.fenced).toBe(6);
    expect(owner.engine.stats.fenced).toBe(0);
  });
});

/**
 * A state store that fails the chosen operations, around the in-memory one; its checkpoint steps can
 * also be held on their way (as a slow Redis would), to pin down what happens while a checkpoint
 * lands in the background of the next batches.
 */
class FaultyStore extends MemoryStateStore {
  failLoads = 0;
  /** The next step holding `sensor` waits until `until` settles. */
  holdWhen: { sensor: string; until: () => Promise<void> } | undefined;
  /** The next step holding this sensor waits until `until`, then fails (a transient store error). */
  failWhen: { sensor: string; until: () => Promise<void> } | undefined;
  override async commit(...args: Parameters<MemoryStateStore['commit']>): Promise<void> {
    const [, write] = args;
    const hold = this.holdWhen;
    if (hold !== undefined && write.sensors.has(hold.sensor)) {
      this.holdWhen = undefined;
      await hold.until();
    }
    const fail = this.failWhen;
    if (fail !== undefined && write.sensors.has(fail.sensor)) {
      this.failWhen = undefined;
      await fail.until();
      throw new Error('store unavailable');
    }
    return super.commit(...args);
  }
  override loadSensors(
    ...args: Parameters<MemoryStateStore['loadSensors']>
  ): ReturnType<MemoryStateStore['loadSensors']> {
    if (this.failLoads > 0) {
      this.failLoads -= 1;
      return Promise.reject(new Error('store unavailable'));
    }
    return super.loadSensors(...args);
  }
}

/** A node on a FaultyStore that has settled the first `upTo` records of `input`. */
async function onFaultyStore(input: readonly InputRecord[], upTo: number) {
  const config = embeddedConfig();
  const store = new FaultyStore();
  const node = await startEmbedded(config, silentLogger, new MemoryRecordLog(), store);
  feed(node.records, config, input.slice(0, upTo));
  await settled(node.records, config);
  /** Feeds the records from `from` on, settles, stops, and returns what differs from `expected`. */
  const finish = async (from: number, expected: RefOutput): Promise<string[]> => {
    feed(node.records, config, input.slice(from));
    await settled(node.records, config);
    await node.stop();
    return compare(await gather(node.records, config, store, sensorsOf(input)), expected);
  };
  return { config, store, node, finish };
}

describe('supervision escalation', () => {
  const input = acceptanceInput(60, 6_000, 5);
  const expected = reference(input, REFERENCE_CONFIG);

  it('a sensor that cannot restore escalates: its partition resets from the checkpoint and replays, still exactly', async () => {
    const { store, node, finish } = await onFaultyStore(input, 3_000);
    store.failLoads = 1;
    await expect(node.engine.crashSensor('st-0003')).rejects.toThrow('store unavailable');
    expect(await finish(3_000, expected)).toEqual([]);
    expect(node.engine.stats.resets).toBe(1);
  });

  it('a corrupt checkpoint stops its partition with errors instead of producing wrong results; the others go on', async () => {
    const config = embeddedConfig();
    const store = new MemoryStateStore();
    const log = new MemoryRecordLog();
    const first = await startEmbedded(config, silentLogger, log, store);
    feed(log, config, input.slice(0, 3_000));
    await settled(log, config);
    await first.stop();
    const topic = config.kafka.topics.readings;
    const victim = partitionForKey('st-0003', 6);
    const { epoch } = await store.acquire({ topic, partition: victim });
    const restored = await store.acquire({ topic, partition: victim });
    await store.commit(
      { topic, partition: victim },
      {
        epoch: restored.epoch,
        offset: restored.offset ?? '0',
        partitionState:
          restored.partitionState ?? Buffer.from('{"v":1,"clock":{"st":null,"idle":[],"silence":[]}}'),
        sensors: new Map([
          ['st-0003', { main: Buffer.from('{"v":1,"maxTs":'), parts: new Map(), appends: new Map() }],
        ]),
        rollups: [],
      },
    );
    expect(epoch).toBeLessThan(restored.epoch);
    const second = await startEmbedded(config, silentLogger, log, store);
    feed(log, config, input.slice(3_000));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const committed = log
      .partitions(topic)
      .map((records, p) => [
        p,
        log.committedOffset(config.kafka.groupId, { topic, partition: p }) === String(records.length),
      ]);
    await second.engine.abort();
    expect(second.engine.stats.resets).toBeGreaterThanOrEqual(2);
    expect(committed.filter(([, done]) => !done).map(([p]) => p)).toEqual([victim]);
  });
});

describe('checkpoints landing while the next batches run', () => {
  const input = acceptanceInput(60, 6_000, 9);
  const expected = reference(input, REFERENCE_CONFIG);

  it('a sensor that crashes while its checkpoint is on its way restores the state of that barrier, not the older one in the store', async () => {
    const { config, store, node, finish } = await onFaultyStore(input, 2_000);
    let crashed: Promise<void> | undefined;
    store.holdWhen = {
      sensor: 'st-0007',
      // The crash is queued behind the batch whose checkpoint this is: it runs before the step lands.
      until: () => {
        crashed = node.engine.crashSensor('st-0007');
        return crashed;
      },
    };
    feed(node.records, config, input.slice(2_000, 4_000));
    while (crashed === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await crashed;
    expect(await finish(4_000, expected)).toEqual([]);
    expect(node.engine.stats.recoveries).toBe(1);
    expect(node.engine.stats.resets).toBe(0);
  });

  it('a step that fails is settled before the next checkpoint, which would otherwise skip its sensors', async () => {
    const { config, store, node, finish } = await onFaultyStore(input, 2_000);
    // The failing step is held past the next checkpoint interval, so a later checkpoint of the same
    // partition is already waiting for it when it fails.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const step = { held: false };
    store.failWhen = {
      sensor: 'st-0007',
      until: () => {
        step.held = true;
        return gate;
      },
    };
    feed(node.records, config, input.slice(2_000, 4_000));
    while (!step.held) await new Promise((resolve) => setTimeout(resolve, 5));
    feed(node.records, config, input.slice(4_000, 5_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    expect(await finish(5_000, expected)).toEqual([]);
    expect(node.engine.stats.resets).toBe(1);
  });
});

describe('runtime rules', () => {
  it('a silence rule set at runtime gets its own clock queue and fires, with no silence rule at start', async () => {
    const pipeline = acceptancePipeline();
    const config = embeddedConfig({
      pipeline: { ...pipeline, rules: (pipeline.rules ?? []).filter((r) => r.kind !== 'silence') },
    });
    expect(config.pipeline.rules.some((r) => r.kind === 'silence')).toBe(false);
    const node = await startEmbedded(config, silentLogger);
    node.engine.setRules([
      ...config.pipeline.rules,
      parseRule({ id: 'quiet', kind: 'silence', after: '30s' }),
    ]);
    // Two sensors of one partition: stream time moves on with `loud`, `still` stops at t = 1 s.
    const ids = Array.from({ length: 100 }, (_, i) => `rt-${i}`);
    const still = ids[0] ?? '';
    const loud =
      ids.find(
        (id) => id !== still && partitionForKey(id, PARTITIONS) === partitionForKey(still, PARTITIONS),
      ) ?? '';
    const reading = (sensorId: string, ts: number) => ({
      key: sensorId,
      value: JSON.stringify({ sensorId, ts, values: { temperature: 20 } }),
    });
    feed(node.records, config, [
      reading(still, 1_000),
      ...Array.from({ length: 40 }, (_, i) => reading(loud, 1_000 + i * 1_000)),
    ]);
    await settled(node.records, config);
    await node.stop();
    const alerts = node.records
      .partitions(config.kafka.topics.alerts)
      .flat()
      .map(
        (r) => JSON.parse(r.value?.toString() ?? '') as { ruleId: string; sensorId: string; state: string },
      );
    expect(alerts.filter((a) => a.ruleId === 'quiet')).toEqual([
      expect.objectContaining({ sensorId: still, state: 'firing' }),
    ]);
  });
});

describe('drain', () => {
  it('stops fetching, writes the final checkpoints and commits, and only then leaves the group', async () => {
    const config = embeddedConfig({ checkpoint: { interval: '1h', store: 'memory' } });
    const log = new MemoryRecordLog();
    for (const role of ['readings', 'logs', 'alerts', 'aggregates', 'dlq', 'late'] as const)
      log.createTopic(config.kafka.topics[role], config.kafka.partitions[role]);
    const calls: string[] = [];
    const inner = log.consumer(config.kafka.groupId);
    const consumer: RecordConsumer = {
      start: (topic, handlers) => inner.start(topic, handlers),
      seek: (p, offset) => {
        inner.seek(p, offset);
      },
      commit: async (p, offset) => {
        calls.push('commit');
        await inner.commit(p, offset);
      },
      pause: (ps) => {
        calls.push('pause');
        inner.pause(ps);
      },
      resume: (ps) => {
        inner.resume(ps);
      },
      stop: async () => {
        calls.push('leave');
        await inner.stop();
      },
    };
    const engine = new Engine({
      config,
      logger: silentLogger,
      consumer,
      producer: log.producer(),
      store: new MemoryStateStore(),
    });
    await engine.start();
    feed(log, config, acceptanceInput(20, 2_000, 3));
    while (engine.stats.records < 2_000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual([]); // the hour-long checkpoint interval: nothing committed yet
    await engine.stop();
    expect(calls[0]).toBe('pause');
    expect(calls.at(-1)).toBe('leave');
    expect(calls.filter((c) => c === 'commit').length).toBe(PARTITIONS);
  });
});

describe('live event frequencies', () => {
  it('counts readings per sensor and per event type into the store', async () => {
    const config = embeddedConfig();
    const node = await startEmbedded(config, silentLogger);
    const input = acceptanceInput(10, 1_200, 5);
    feed(node.records, config, input);
    await settled(node.records, config);
    await node.stop(); // flushes the last counts
    const f = await node.store.frequencies(Math.floor(Date.now() / 1000) + 1, 60);
    const total = Object.values(f.sensors).reduce((a, b) => a + b, 0) * 60;
    const readings = input.filter((r) => r.value.startsWith('{') && r.value.includes('"values"')).length;
    expect(total).toBeGreaterThan(readings * 0.9); // every valid reading once (repeats too: they are events)
    expect(total).toBeLessThanOrEqual(readings);
    expect(Object.keys(f.types).sort()).toEqual(['humidity', 'noise_level', 'temperature']);
  });
});
