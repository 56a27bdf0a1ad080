/**
 * `npm run bench`: every figure of the benchmark issue, each next to the machine's own limit measured
 * in the same run (or to its goal), as a table, as JSON in .run/bench/<time>.json, and (a full run of
 * every step) as docs/measurements.md.
 *
 *   npm run bench -- [--quick] [--only engine,kafka,kafka3,mqtt,latency,memory,recovery]
 *                    [--duration 40s] [--records 400000] [--sensors 100000,1000000] [--kills 5]
 *
 * --quick is the smoke run CI makes (small sizes, a couple of minutes); figures from it are not
 * measurements. Brings the stack up (reusing what runs) and builds dist/ first, as the tests do.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.js';
import { ROOT } from '../test/support/chaos/cluster.js';
import { embeddedEngine } from './engine.js';
import { kafkaIngest, mqttIngest } from './ingest.js';
import { latency } from './latency.js';
import { bareMqtt } from './limits.js';
import { measurementsPage, table, type Figure } from './lib.js';
import { recovery } from './recovery.js';
import { OwnMosquitto } from '../test/support/mosquitto.js';
import { freePort } from '../test/support/ports.js';

const STEPS = ['engine', 'kafka', 'kafka3', 'mqtt', 'latency', 'memory', 'recovery'] as const;
type Step = (typeof STEPS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    duration: { type: 'string' },
    records: { type: 'string' },
    sensors: { type: 'string' },
    kills: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick;
const only = new Set<Step>(
  values.only === undefined
    ? STEPS
    : values.only.split(',').map((s) => {
        if (!(STEPS as readonly string[]).includes(s))
          throw new Error(`--only: unknown step "${s}" (${STEPS.join(', ')})`);
        return s as Step;
      }),
);
const records = Number(values.records ?? (quick ? 20_000 : 400_000));
const durationMs = parseDuration(values.duration ?? (quick ? '8s' : '40s')) ?? 40_000;
const sensorCounts = (values.sensors ?? (quick ? '10000' : '100000,1000000')).split(',').map(Number);
const kills = Number(values.kills ?? (quick ? 1 : 5));
const STATIONS = 1_000;

const started = Date.now();
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const step = (name: string): void => {
  say(`== ${name} (${Math.round((Date.now() - started) / 1000)} s)`);
};

step('stack and build');
for (const script of ['cluster/services.sh', 'cluster/kafka/start.sh'])
  execFileSync('bash', [script], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
});

const figures: Figure[] = [];

if (only.has('engine')) {
  step(`engine alone, embedded (${records} readings)`);
  const rate = await embeddedEngine(records, STATIONS, say);
  figures.push({
    id: 'engine.embedded',
    name: 'engine alone (embedded, no Kafka): events/s',
    value: rate,
    unit: 'events/s',
  });
}

let bare: number | undefined;
if (only.has('kafka')) {
  step(`Kafka ingest, 1 node (${records} readings)`);
  const r = await kafkaIngest(1, records, STATIONS, say);
  bare = r.bare;
  figures.push({
    id: 'limit.kafka',
    name: 'limit: bare kafkajs consumer, same topic',
    value: r.bare ?? Number.NaN,
    unit: 'records/s',
  });
  const ratio = r.rate / (r.bare ?? Number.NaN);
  figures.push({
    id: 'kafka.1node',
    name: 'Kafka ingest end to end, 1 node',
    value: r.rate,
    unit: 'readings/s',
    against: { label: 'bare consumer', value: r.bare ?? Number.NaN, unit: 'records/s' },
    goal: { text: `≥ 80 % of the bare consumer; ${(ratio * 100).toFixed(0)} %`, met: ratio >= 0.8 },
    note: `peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
  });
}

if (only.has('kafka3')) {
  step(`Kafka ingest, 3 nodes (${records} readings)`);
  const r = await kafkaIngest(3, records, STATIONS, say);
  figures.push({
    id: 'kafka.3nodes',
    name: 'Kafka ingest end to end, 3 nodes (one machine)',
    value: r.rate,
    unit: 'readings/s',
    ...(bare === undefined ? {} : { against: { label: 'bare consumer', value: bare, unit: 'records/s' } }),
    note: `peak RSS of the 3 nodes ${r.peakRssMiB.toFixed(0)} MiB`,
  });
}

if (only.has('mqtt')) {
  const n = Math.max(2_000, Math.round(records / 2));
  const publishers = 4;
  step(`MQTT ingest (${n} readings)`);
  // A Mosquitto of the run's own, with the project's broker settings (cluster/mosquitto.conf).
  const broker = new OwnMosquitto(await freePort());
  await broker.start();
  let limit: number;
  let r: Awaited<ReturnType<typeof mqttIngest>>;
  try {
    limit = await bareMqtt(broker.url, n, publishers, say);
    r = await mqttIngest(broker.url, n, STATIONS, publishers, say);
  } finally {
    await broker.stop();
  }
  figures.push({
    id: 'limit.mqtt',
    name: `limit: bare MQTT publish → subscriber (QoS 1, Mosquitto, ${publishers} publishers)`,
    value: limit,
    unit: 'msgs/s',
  });
  figures.push({
    id: 'mqtt.ingest',
    name: 'MQTT ingest end to end (bridge, Kafka, engine)',
    value: r.rate,
    unit: 'readings/s',
    against: { label: 'bare MQTT', value: limit, unit: 'msgs/s' },
    goal: { text: '≥ 50,000 readings/s', met: r.rate >= 50_000 },
    note: `published at ${r.published.toFixed(0)}/s by ${publishers} processes`,
  });
}

if (only.has('latency')) {
  for (const rate of quick ? [2_000] : [5_000, 25_000]) {
    step(`event-to-alert latency at ${rate} events/s for ${durationMs / 1000} s`);
    const r = await latency(rate, durationMs, say);
    const kept = r.backlogAtEnd <= rate * 2;
    figures.push({
      id: `latency.${rate}`,
      name: `event → alert at a gRPC subscriber, ${rate.toLocaleString('en-US')} events/s offered`,
      value: r.p99,
      unit: 'ms p99',
      display: `p50 ${r.p50} ms · p99 ${r.p99} ms · p99.9 ${r.p999} ms`,
      ...(rate === 25_000 ? { goal: { text: 'p99 < 50 ms', met: r.p99 < 50 && kept } } : {}),
      note: `${r.alerts} alerts measured; ${r.achieved.toFixed(0)} events/s sent; ${kept ? 'kept up' : `did not keep up (${r.backlogAtEnd} behind)`}`,
    });
  }
}

if (only.has('memory')) {
  /** One run of bench/memory.ts in a process of its own (a fresh heap, --expose-gc). */
  const measure = (sensors: number, mode: 'active' | 'idle') =>
    new Promise<{ heapPerSensorBytes: number; rssMiB: number; seconds: number }>((resolve, reject) => {
      // Room for every sensor active at once (about 12 KiB each) before passivation.
      const heapMiB = Math.max(2_048, Math.ceil((sensors * 14_000) / 1048576) + 1_536);
      const child = spawn(
        process.execPath,
        [
          '--expose-gc',
          `--max-old-space-size=${heapMiB}`,
          '--import',
          'tsx',
          'bench/memory.ts',
          String(sensors),
          mode,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (code) => {
        if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as never);
        else reject(new Error(`bench/memory.ts ${sensors} ${mode} exited with ${String(code)}`));
      });
    });
  const [smallest] = sensorCounts;
  if (smallest !== undefined) {
    step(`memory: ${smallest.toLocaleString('en-US')} active sensor actors`);
    const m = await measure(smallest, 'active');
    figures.push({
      id: `memory.active.${smallest}`,
      name: `heap per active sensor actor (windows, rules, dedupe), ${smallest.toLocaleString('en-US')} sensors`,
      value: m.heapPerSensorBytes,
      unit: 'bytes',
      note: `RSS ${m.rssMiB.toFixed(0)} MiB`,
    });
  }
  for (const sensors of sensorCounts) {
    step(`memory: ${sensors.toLocaleString('en-US')} idle sensors`);
    const m = await measure(sensors, 'idle');
    figures.push({
      id: `memory.idle.${sensors}`,
      name: `heap per idle sensor (dormant: state in Redis), ${sensors.toLocaleString('en-US')} sensors`,
      value: m.heapPerSensorBytes,
      unit: 'bytes',
      goal: { text: '≤ 1 KiB per idle sensor', met: m.heapPerSensorBytes <= 1024 },
      note: `RSS ${m.rssMiB.toFixed(0)} MiB; ${m.seconds.toFixed(0)} s to take their readings`,
    });
  }
}

if (only.has('recovery')) {
  step(`recovery after SIGKILL (${kills} kills)`);
  const r = await recovery(kills, say);
  figures.push({
    id: 'recovery.owned',
    name: `partitions owned again after SIGKILL (${r.kills} kills)`,
    value: r.ownedP99,
    unit: 's p99',
    display: `p50 ${r.ownedP50.toFixed(2)} s · p99 ${r.ownedP99.toFixed(2)} s`,
    goal: { text: 'p99 < 10 s', met: r.ownedP99 < 10 },
    note: `nothing lost: ${r.lost === 0 ? 'yes' : r.lost}, nothing doubled: ${r.duplicated === 0 ? 'yes' : r.duplicated}`,
  });
  figures.push({
    id: 'recovery.lag',
    name: 'lag back to its level after SIGKILL',
    value: r.lagBackP99,
    unit: 's p99',
    display: `p50 ${r.lagBackP50.toFixed(2)} s · p99 ${r.lagBackP99.toFixed(2)} s`,
  });
}

step('done');
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Kafka, Redis, Mosquitto and the load on the same machine`;
const report = { at: new Date().toISOString(), quick, machine, node: process.version, figures };
const dir = join(ROOT, '.run', 'bench');
mkdirSync(dir, { recursive: true });
const file = values.out ?? join(dir, `${report.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
// A full run of every step is the page of record; a quick or partial run is not.
const complete = !quick && values.only === undefined;
const page = join(ROOT, 'docs', 'measurements.md');
if (complete) {
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  writeFileSync(page, measurementsPage({ ...report, command }));
}
process.stdout.write(
  `\n${report.at} · ${machine} · Node.js ${process.version}${quick ? ' · QUICK (smoke run, not measurements)' : ''}\n\n`,
);
process.stdout.write(`${table(figures)}\n\n`);
for (const f of figures) if (f.note !== undefined) process.stdout.write(`- ${f.name}: ${f.note}\n`);
process.stdout.write(`\nfigures: ${file}${complete ? `, ${page}` : ''}\n`);
