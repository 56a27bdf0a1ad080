import { execFile } from 'node:child_process';
import type { Kafka } from 'kafkajs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unary } from '../../../src/cli/grpc-client.js';
import type { Ack__Output } from '../../../src/gen/vigil/v1/Ack.js';
import { Random } from '../../../src/sim/random.js';
import { acceptanceInput, compare, REFERENCE_CONFIG, withQuietPeriod } from '../acceptance.js';
import { acceptanceRawConfig, gatherFromKafka, prepareKafka } from '../kafka-run.js';
import { header, readToEnd, json } from '../kafka.js';
import { withHostileInput, type HostileOptions } from '../hostile-input.js';
import { progress } from '../node-process.js';
import { reference, referenceOfLog, type LoggedRecord } from '../reference.js';
import type { CodecName } from '../../../src/transport/kafka/codecs.js';
import { ResilientSubscriber, steadyLoad } from './clients.js';
import { freePort } from '../ports.js';
import { LinkProxies, LocalCluster, OwnRedis, ownedBy, ROOT } from './cluster.js';
import { partitionForKey } from '../../../src/core/partitioner.js';
import type { InspectActorResponse__Output } from '../../../src/gen/vigil/v1/InspectActorResponse.js';

/** What each partition of vigil.readings holds, in log order, clock records included. */
async function loggedReadings(kafka: Kafka, topic: string): Promise<LoggedRecord[][]> {
  const parts: LoggedRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const r of await readToEnd(kafka, topic))
    parts[r.partition]?.push({
      key: r.message.key?.toString() ?? '',
      value: r.message.value?.toString() ?? '',
      offset: Number(r.message.offset),
      timestamp: Number(r.message.timestamp),
      clock: header(r, 'vigil-control') === 'clock',
    });
  for (const p of parts) p.sort((a, b) => a.offset - b.offset);
  return parts;
}

export type FaultKind = 'kill' | 'zombie' | 'drain' | 'crash' | 'redis' | 'broker' | 'link';

export interface CampaignOptions {
  readonly nodes: number;
  /** SIGKILLs, each followed by a restart of the node once its partitions have moved. */
  readonly kills: number;
  /** SIGSTOPs past the session timeout, then SIGCONT: a zombie that wakes up. */
  readonly zombies: number;
  /** Graceful drains through the Control service, then a restart. */
  readonly drains: number;
  /** Sensor actor crashes through the Control service. */
  readonly crashes: number;
  /** SIGKILLs of the campaign's Redis (AOF, fsync always), started again 2 s later. */
  readonly redisRestarts: number;
  /** Restarts of the Kafka broker (cluster/kafka/stop.sh, start.sh), if these scripts started it. */
  readonly brokerRestarts: number;
  /** The gRPC links to a node cut for 5 s, then restored. */
  readonly linkCuts: number;
  /** Readings per second offered, straight to Kafka, for the whole campaign. */
  readonly rate: number;
  /** How long the load lasts at least; it always outlasts the faults (about 14 s per fault). */
  readonly durationMs?: number;
  readonly stations: number;
  readonly seed: number;
  readonly sessionTimeoutMs: number;
  /** Hostile records mixed into the load (test/support/hostile-input.ts); none when unset. */
  readonly hostile?: Omit<HostileOptions, 'seed'>;
  /** The load's sends compressed with each of these in turn (Kafka's codecs; none when unset). */
  readonly codecs?: readonly CodecName[];
  /**
   * A quiet period of the whole network in the middle of the load, this long: nothing is produced.
   * It runs with clock records on (every second), its readings dated by the wall clock, and the oracle
   * computed from what the partitions hold, clock records included.
   */
  readonly quietMs?: number;
  readonly log: (line: string) => void;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly node: number;
  /** From the fault until every partition it held is owned by a live node again. */
  readonly reassignedMs?: number;
  /** From the fault until the consumer lag is back to its level before the fault. */
  readonly recoveredMs?: number;
  /** Checkpoints the woken zombie tried and had refused (its epoch was stale). */
  readonly refused?: number;
  /**
   * Partitions the woken zombie found taken meanwhile when they were assigned back to it: it took
   * them again from the checkpoint instead of writing on a stale epoch.
   */
  readonly retaken?: number;
  /** A link cut: a command routed to the cut-off node failed while the link was down. */
  readonly failedWhileCut?: boolean;
}

export interface CampaignResult {
  readonly faults: readonly FaultRecord[];
  readonly recordsIn: number;
  readonly expected: { windows: number; alerts: number; late: number; dlq: number };
  /** Differences from the oracle (empty: exact). */
  readonly problems: readonly string[];
  readonly lost: number;
  readonly duplicated: number;
  readonly subscriber: { received: number; unique: number; missing: number; reconnects: number };
  readonly alertsInLog: number;
  /** Hostile records offered (each must be a dead letter; compared with the oracle like the rest). */
  readonly hostile: number;
  /** Sensors the oracle reports silent (silence rules fire while nothing arrives). */
  readonly silenced: number;
  /** Dead letters without a reason (there must be none). */
  readonly dlqWithoutReason: number;
  /** The largest resident memory of a node process, sampled after each fault and at the end. */
  readonly maxRssMb: number;
  /** Node processes not running at the end (a node that stopped by itself: there must be none). */
  readonly deadAtEnd: number;
}

/** A process' resident memory in MiB, from /proc (undefined when it is not running). */
function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

const PARTITIONS = 6;
const run = promisify(execFile);

/** Stops the broker if cluster/kafka/start.sh started it; false when it did not. */
async function stopBroker(): Promise<boolean> {
  const { stderr } = await run('bash', [join(ROOT, 'cluster/kafka/stop.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return !stderr.includes('no Kafka started by these scripts');
}

/**
 * Whether a command for `sensor` sent to node `via` reaches the sensor's owner: any answer but
 * "unavailable" or "deadline exceeded" (NOT_FOUND, for a sensor not seen yet, came from the owner).
 */
async function reaches(cluster: LocalCluster, via: number, sensor: string): Promise<boolean> {
  const c = cluster.connect(via);
  try {
    await unary<object, InspectActorResponse__Output>(
      c.control.inspectActor.bind(c.control),
      { sensorId: sensor },
      c.metadata,
      8_000,
    );
    return true;
  } catch (err) {
    return !/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/.test((err as { grpcStatus?: string }).grpcStatus ?? '');
  } finally {
    c.control.close();
    c.query.close();
    c.alerts.close();
  }
}

async function startBroker(): Promise<void> {
  await run('bash', [join(ROOT, 'cluster/kafka/start.sh')], { cwd: ROOT, encoding: 'utf8' });
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms; resolves with the time it took, or undefined after `timeoutMs`. */
async function timeUntil(
  from: number,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = from + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return Date.now() - from;
    await sleep(100);
  }
  return undefined;
}

/**
 * The faults in a seeded order. Each kind rotates over the nodes on its own, so successive kills hit
 * different nodes (three kills on three nodes hit each once).
 */
function schedule(o: CampaignOptions, random: Random): { kind: FaultKind; node: number }[] {
  const kinds: FaultKind[] = [
    ...Array<FaultKind>(o.kills).fill('kill'),
    ...Array<FaultKind>(o.zombies).fill('zombie'),
    ...Array<FaultKind>(o.drains).fill('drain'),
    ...Array<FaultKind>(o.crashes).fill('crash'),
    ...Array<FaultKind>(o.redisRestarts).fill('redis'),
    ...Array<FaultKind>(o.brokerRestarts).fill('broker'),
    ...Array<FaultKind>(o.linkCuts).fill('link'),
  ];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as FaultKind, kinds[i] as FaultKind];
  }
  const next = new Map<FaultKind, number>();
  return kinds.map((kind) => {
    const n = next.get(kind) ?? Math.floor(random.next() * o.nodes);
    next.set(kind, n + 1);
    return { kind, node: (n % o.nodes) + 1 };
  });
}

/**
 * A fault campaign on the real stack: N node processes, Kafka, Redis, a seeded steady load of
 * readings, a subscriber following the alerts across nodes, and faults one after another. In the
 * end, everything Vigil produced is compared with the oracle (the independent reference computation
 * of the same seeded input), and what the subscriber holds with what vigil.alerts holds.
 */
export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const random = new Random(o.seed);
  const plan = schedule(o, random);
  const faultTime = plan.reduce((t, f) => t + (f.kind === 'crash' ? 2_000 : 14_000), 0);
  const loadMs = Math.max(o.durationMs ?? 0, faultTime + 15_000);
  const total = Math.max(5_000, Math.round((o.rate * loadMs) / 1000));
  // With a quiet period, readings are dated by the wall clock (as clock records are), a second of
  // event time per second of load; without, in the past, closed by sentinels.
  const clocked = o.quietMs !== undefined;
  const good = clocked
    ? acceptanceInput(o.stations, total, o.seed, {
        startTs: Math.floor(Date.now() / 1000) * 1000,
        rate: o.rate,
        sentinels: false,
      })
    : acceptanceInput(o.stations, total, o.seed);
  const mixed =
    o.hostile === undefined
      ? { records: good, hostile: 0 }
      : withHostileInput(good, { ...o.hostile, seed: o.seed }, clocked ? 0 : PARTITIONS);
  const quietAt = Math.floor(mixed.records.length / 2);
  const input = clocked ? withQuietPeriod(mixed.records, quietAt, o.quietMs) : mixed.records;
  const refConfig = { ...REFERENCE_CONFIG, ...(clocked ? { clockGapMs: 60_000 } : {}) };
  let expected = reference(input, refConfig);
  const raw = acceptanceRawConfig('chaos', {
    log: { level: 'warn' },
    checkpoint: { interval: '500ms' },
    ...(clocked ? { readings: { clock: { interval: '1s', gap: '1m' } } } : {}),
  });
  const rawKafka = raw['kafka'] as Record<string, unknown>;
  rawKafka['sessionTimeout'] = `${o.sessionTimeoutMs}ms`;
  const cluster = new LocalCluster(o.nodes, raw);
  const redis = new OwnRedis(await freePort(), join(cluster.runDir, 'redis'));
  await redis.start();
  raw['redis'] = { ...(raw['redis'] as Record<string, unknown>), url: redis.url };
  cluster.writeConfig(raw);
  const { config, kafka } = await prepareKafka(raw, []);
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const alive = new Set(ids);
  const live = (): number[] => ids.filter((i) => alive.has(i));
  o.log(
    `campaign: ${o.nodes} nodes, ${plan.length} faults, ${input.length} records at ${o.rate}/s` +
      (o.hostile === undefined
        ? ''
        : ` (${mixed.hostile} hostile, a burst of ${o.hostile.burst} new sensors)`) +
      `, seed ${o.seed}`,
  );

  const membersOk = async (nodes: readonly number[]): Promise<boolean> => {
    const via = nodes[0];
    if (via === undefined) return false;
    const m = await cluster.members(via);
    return (
      m !== undefined &&
      ownedBy(
        m,
        nodes.map((i) => `node-${i}`),
        // vigil.readings and vigil.logs, in one group
        PARTITIONS + config.kafka.partitions.logs,
      ) &&
      nodes.every((i) => m.some((x) => x.id === `node-${i}` && x.partitions.length > 0))
    );
  };
  const lag = async (): Promise<number> => {
    const p = await progress(kafka, config.kafka.groupId, config.kafka.topics.readings);
    return p.end - p.committed;
  };

  const proxies = new LinkProxies(cluster.advertiseBasePort, cluster.basePort);
  await proxies.start(o.nodes);
  await cluster.up();
  if ((await timeUntil(Date.now(), () => membersOk(ids), 60_000)) === undefined)
    throw new Error('the cluster did not settle before the campaign');
  const subscriber = new ResilientSubscriber(cluster, live);
  const load = steadyLoad(kafka, config.kafka.topics.readings, input, o.rate, PARTITIONS, {
    ...(o.codecs === undefined ? {} : { codecs: o.codecs }),
    ...(o.quietMs === undefined ? {} : { quiet: { at: quietAt, forMs: o.quietMs } }),
  });
  const faults: FaultRecord[] = [];
  let maxRssMb = 0;
  const sampleRss = (): void => {
    for (const i of live()) maxRssMb = Math.max(maxRssMb, rssMb(cluster.pid(i)) ?? 0);
  };
  try {
    await sleep(3_000);
    for (const [n, f] of plan.entries()) {
      // Each fault starts from a steady cluster: every node owning partitions for 3 s in a row.
      await timeUntil(
        Date.now(),
        async () => {
          for (let i = 0; i < 6; i++) {
            if (!(await membersOk(live()))) return false;
            await sleep(500);
          }
          return true;
        },
        60_000,
      );
      const before = Math.max(await lag(), o.rate);
      const others = live().filter((i) => i !== f.node);
      const t0 = Date.now();
      let record: FaultRecord = { kind: f.kind, node: f.node };
      if (f.kind === 'link') {
        // A sensor the cut-off node owns, asked for through another node: over the cut link.
        const via = others[0] ?? 1;
        const owned = (await cluster.members(via))?.find((m) => m.id === `node-${f.node}`)?.partitions ?? [];
        const sensor =
          input.find((r) => owned.some((p) => p.endsWith(`:${partitionForKey(r.key, PARTITIONS)}`)))?.key ??
          'st-0000';
        proxies.sever(f.node);
        const failedWhileCut = !(await reaches(cluster, via, sensor));
        await sleep(5_000);
        proxies.restore(f.node);
        const t1 = Date.now();
        const recoveredMs = await timeUntil(t1, () => reaches(cluster, via, sensor), 60_000);
        record = { ...record, failedWhileCut, ...(recoveredMs === undefined ? {} : { recoveredMs }) };
      } else if (f.kind === 'redis' || f.kind === 'broker') {
        if (f.kind === 'redis') {
          await redis.kill();
          await sleep(2_000);
          await redis.start();
        } else {
          const stopped = await stopBroker();
          if (!stopped) o.log('  the broker was not started by cluster/kafka/start.sh: not restarted');
          await startBroker();
        }
        const recoveredMs = await timeUntil(
          t0,
          async () => (await lag().catch(() => Infinity)) <= before,
          120_000,
        );
        record = { ...record, ...(recoveredMs === undefined ? {} : { recoveredMs }) };
        if ((await timeUntil(Date.now(), () => membersOk(ids), 60_000)) === undefined)
          o.log(`  the cluster did not settle after fault ${n + 1}`);
      } else if (f.kind === 'crash') {
        const sensor = input[Math.floor(random.next() * input.length)]?.key ?? 'st-0000';
        const c = cluster.connect(others[0] ?? 1, 'admin');
        try {
          await unary<object, Ack__Output>(
            c.control.crashActor.bind(c.control),
            { sensorId: sensor },
            c.metadata,
          );
        } catch (err) {
          o.log(`  crash of ${sensor} not carried out: ${(err as Error).message}`); // e.g. never seen yet
        } finally {
          c.control.close();
          c.query.close();
          c.alerts.close();
        }
      } else {
        const logBefore = cluster.log(f.node).length;
        if (f.kind === 'kill') cluster.signal(f.node, 'SIGKILL');
        else if (f.kind === 'zombie') cluster.signal(f.node, 'SIGSTOP');
        else await cluster.nodes('drain', String(f.node));
        alive.delete(f.node);
        // A lone node has nobody to take its partitions: it is restarted at once, and recovery timed from
        // the fault through its restart.
        const alone = others.length === 0;
        if (alone && f.kind !== 'zombie') await cluster.nodes('restart', String(f.node));
        const reassignedMs = await timeUntil(t0, () => membersOk(alone ? ids : others), 60_000);
        const recoveredMs = await timeUntil(t0, async () => (await lag()) <= before, 60_000);
        record = {
          ...record,
          ...(reassignedMs === undefined ? {} : { reassignedMs }),
          ...(recoveredMs === undefined ? {} : { recoveredMs }),
        };
        if (f.kind === 'zombie') {
          cluster.signal(f.node, 'SIGCONT');
          await sleep(o.sessionTimeoutMs + 2_000); // it wakes, tries its stale checkpoints, rejoins
          const woke = cluster.log(f.node).slice(logBefore);
          const count = (text: string): number => woke.split(text).length - 1;
          record = {
            ...record,
            refused: count('checkpoint refused'),
            retaken: count('partition was taken meanwhile'),
          };
        } else if (!alone) {
          await cluster.nodes('restart', String(f.node));
        }
        alive.add(f.node);
        if ((await timeUntil(Date.now(), () => membersOk(ids), 60_000)) === undefined)
          o.log(`  the cluster did not settle after fault ${n + 1}`);
      }
      faults.push(record);
      sampleRss();
      o.log(
        `  fault ${n + 1}/${plan.length}: ${f.kind} node-${f.node}` +
          (record.reassignedMs === undefined
            ? ''
            : `, partitions owned again after ${record.reassignedMs} ms`) +
          (record.recoveredMs === undefined ? '' : `, lag back after ${record.recoveredMs} ms`) +
          (record.refused === undefined
            ? ''
            : `, ${record.refused} stale checkpoint(s) refused, ${record.retaken ?? 0} partition(s) retaken`),
      );
    }
    await load;
    o.log('  load done; waiting for every node to catch up');
    await timeUntil(Date.now(), async () => (await lag()) <= (clocked ? 3 * PARTITIONS : 0), 180_000);
    if (clocked) {
      // Clock records go on: every sensor's windows close and its silence fires (idle timeout and
      // silence of the acceptance pipeline, 30 s and 20 s), after which they change nothing more. The
      // oracle reads what the partitions hold then, clock records included.
      await sleep(45_000);
      expected = referenceOfLog(await loggedReadings(kafka, config.kafka.topics.readings), refConfig);
    }
    const alertsInLog = new Set(
      (await readToEnd(kafka, config.kafka.topics.alerts)).map((r) => (json(r) as { id: string }).id),
    );
    await timeUntil(
      Date.now(),
      () => Promise.resolve(new Set(subscriber.received.map((a) => a.id)).size >= alertsInLog.size),
      30_000,
    );
    await subscriber.stop();
    sampleRss();
    const deadAtEnd = ids.filter((i) => rssMb(cluster.pid(i)) === undefined).length;
    const engineOut = await gatherFromKafka(config, kafka, expected, new Set(input.map((r) => r.key)));
    const dlqWithoutReason = (await readToEnd(kafka, config.kafka.topics.dlq)).filter(
      (r) => (header(r, 'vigil-reason') ?? '') === '',
    ).length;
    const problems = compare(engineOut, expected);
    const got = subscriber.received.map((a) => a.id);
    const unique = new Set(got);
    return {
      faults,
      recordsIn: input.length,
      expected: {
        windows: expected.windows.size,
        alerts: expected.alerts.size,
        late: expected.late.size,
        dlq: expected.dlq.size,
      },
      problems,
      lost: problems.filter((p) => p.startsWith('missing')).length,
      duplicated: problems.filter((p) => !p.startsWith('missing')).length + (got.length - unique.size),
      subscriber: {
        received: got.length,
        unique: unique.size,
        missing: [...alertsInLog].filter((id) => !unique.has(id)).length,
        reconnects: subscriber.reconnects,
      },
      alertsInLog: alertsInLog.size,
      hostile: mixed.hostile,
      silenced: new Set(
        [...expected.alerts.values()]
          .filter((a) => a.ruleId === 'silent' && a.state === 'firing')
          .map((a) => a.sensorId),
      ).size,
      dlqWithoutReason,
      maxRssMb: Math.round(maxRssMb),
      deadAtEnd,
    };
  } finally {
    await subscriber.stop();
    await load.catch(() => undefined);
    for (const i of ids) {
      try {
        cluster.signal(i, 'SIGCONT');
      } catch {
        // not running
      }
    }
    await cluster.nodes('stop').catch(() => undefined);
    await redis.stop();
    await proxies.close();
  }
}
