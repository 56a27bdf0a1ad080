/**
 * `npm run bench:core`: the pure core alone, one sensor processor per station, no actors and no I/O
 * (what a node does per reading, minus routing, Kafka and Redis), on the compiled code in dist/:
 *
 *   npm run bench:core -- [readings] [stations] [readings between checkpoints]
 *
 * Prints readings/s decoded, processed (windows, rules, dedupe, rollups), and processed with a
 * checkpoint of every sensor every N readings (as a node checkpointing each second at N readings/s),
 * the cost and size of one such checkpoint (with the raw readings it packs), and what a reading that
 * closes windows costs.
 * Runs in one process: the figures move by ±10 % from run to run on this machine, so compare
 * changes by the best of several runs.
 */
import type * as Checkpoint from '../src/core/checkpoint.js';
import type * as Outputs from '../src/core/outputs.js';
import type * as RawMinutes from '../src/core/raw-minutes.js';
import type * as ReadingModule from '../src/core/reading.js';
import type * as Sensor from '../src/core/sensor.js';
import { buildConfig } from '../src/config/load.js';
import { benchPipeline, readings } from './lib.js';

const load = async <T>(path: string): Promise<T> => (await import(new URL(path, import.meta.url).href)) as T;
const { SensorProcessor } = await load<typeof Sensor>('../dist/core/sensor.js');
const { encodeSensorCheckpoint } = await load<typeof Checkpoint>('../dist/core/checkpoint.js');
const { newOutputBuffer } = await load<typeof Outputs>('../dist/core/outputs.js');
const { packRawMinutes } = await load<typeof RawMinutes>('../dist/core/raw-minutes.js');
const { decodeReading } = await load<typeof ReadingModule>('../dist/core/reading.js');

const [count = 400_000, stations = 1_000, every = 30_000] = process.argv.slice(2).map(Number);
const pipeline = buildConfig({ node: { id: 'bench-core' }, pipeline: benchPipeline() }).pipeline;
const input = readings(stations, count, 1_796_000_000_000).map((r) => Buffer.from(r.value));

const t0 = performance.now();
const decoded: ReadingModule.Reading[] = [];
for (const raw of input) {
  const d = decodeReading(raw);
  if (d.ok) decoded.push(d.value);
}
const decodeS = (performance.now() - t0) / 1000;

const sensors = new Map<string, Sensor.SensorProcessor>();
let checkpointMs = 0;
let checkpoints = 0;
let bytes = 0;
let closingMs = 0;
let closing = 0;
let results = 0;
let rawBytes = 0;
/** Readings kept raw until the next checkpoint packs them (rollups.rawTtl), as a partition does. */
let raw: ReadingModule.Reading[] = [];
const t1 = performance.now();
decoded.forEach((r, i) => {
  let p = sensors.get(r.sensorId);
  if (p === undefined) sensors.set(r.sensorId, (p = new SensorProcessor(r.sensorId, pipeline)));
  const out = newOutputBuffer();
  const s = performance.now();
  p.process(r, out);
  for (const k of out.raw) raw.push(k);
  if (out.windowResults.length > 0) {
    closingMs += performance.now() - s;
    closing += 1;
    results += out.windowResults.length;
  }
  if ((i + 1) % every === 0) {
    const c = performance.now();
    for (const q of sensors.values()) {
      const w = encodeSensorCheckpoint(q.checkpoint());
      bytes += w.main.length;
      for (const b of w.parts.values()) bytes += b?.length ?? 0;
      for (const b of w.appends.values()) bytes += b.length;
    }
    for (const m of packRawMinutes(raw, pipeline.window.metrics)) rawBytes += m.bytes.length;
    raw = [];
    checkpointMs += performance.now() - c;
    checkpoints += 1;
  }
});
const totalS = (performance.now() - t1) / 1000;
const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')}/s`;
process.stdout.write(
  [
    `${decoded.length.toLocaleString('en-US')} readings of ${stations} stations, a checkpoint every ${every.toLocaleString('en-US')}`,
    `decode                      ${rate(decoded.length, decodeS)}`,
    `process                     ${rate(decoded.length, totalS - checkpointMs / 1000)}`,
    `process + checkpoints       ${rate(decoded.length, totalS)}`,
    `checkpoint of every sensor  ${(checkpointMs / checkpoints).toFixed(1)} ms, ${Math.round(bytes / checkpoints / sensors.size)} B per sensor`,
    `raw readings kept           ${Math.round(rawBytes / decoded.length)} B per reading`,
    `a reading closing windows   ${((closingMs / closing) * 1000).toFixed(1)} us (${(results / closing).toFixed(1)} window results)`,
  ].join('\n') + '\n',
);
