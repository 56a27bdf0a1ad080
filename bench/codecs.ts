/**
 * `npm run bench:codecs`: what each Kafka codec costs and saves on what Vigil produces, through the
 * codecs Vigil registers with kafkajs (src/transport/kafka/codecs.ts) and kafkajs' own record batch
 * encoder and decoder, as a produce request and a fetch do:
 *
 *   npm run bench:codecs -- [records per batch] [batches]
 *
 * Two payloads: window results of the default pipeline (vigil.aggregates, most of what a node writes)
 * and readings as the bridge writes them (vigil.readings). For each codec: bytes on the wire against
 * none, and CPU microseconds per record to compress and to decompress (best of 3 rounds).
 */
import { createRequire } from 'node:module';
import { buildConfig } from '../src/config/load.js';
import { newOutputBuffer } from '../src/core/outputs.js';
import { decodeReading } from '../src/core/reading.js';
import { SensorProcessor } from '../src/core/sensor.js';
import { KAFKA_CODECS, registerCodecs } from '../src/transport/kafka/codecs.js';
import { benchPipeline, readings } from './lib.js';

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  o: Record<string, unknown>,
) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<unknown>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;

const [perBatch = 500, batches = 40] = process.argv.slice(2).map(Number);
registerCodecs(64 * 1024 * 1024);

/** Window results of the default pipeline over generated readings, as vigil.aggregates holds them. */
function windowResults(n: number): string[] {
  const pipeline = buildConfig({ node: { id: 'bench-codecs' }, pipeline: benchPipeline() }).pipeline;
  const sensors = new Map<string, SensorProcessor>();
  const out = newOutputBuffer();
  for (const r of readings(200, 200 * n, 1_796_000_000_000)) {
    const d = decodeReading(r.value);
    if (!d.ok) continue;
    let p = sensors.get(d.value.sensorId);
    if (p === undefined) sensors.set(d.value.sensorId, (p = new SensorProcessor(d.value.sensorId, pipeline)));
    p.process(d.value, out);
    if (out.windowResults.length >= n) break;
  }
  return out.windowResults.slice(0, n).map((w) => JSON.stringify(w));
}

async function measure(name: string, values: readonly string[]): Promise<void> {
  const records = values.map((v, i) =>
    Record({ offsetDelta: i % perBatch, key: Buffer.from(`k${i}`), value: Buffer.from(v) }),
  );
  const groups: unknown[][] = [];
  for (let i = 0; i < records.length; i += perBatch) groups.push(records.slice(i, i + perBatch));
  const codecs: [string, number][] = [['none', 0], ...Object.entries(KAFKA_CODECS)];
  let noneBytes = 0;
  process.stdout.write(`\n${name}: ${values.length} records in batches of ${perBatch}\n`);
  process.stdout.write('codec    bytes/record  vs none  compress µs/record  decompress µs/record\n');
  for (const [codec, compression] of codecs) {
    let bestIn = Infinity;
    let bestOut = Infinity;
    let bytes = 0;
    // A first round warms the code up (unmeasured), then the best of three.
    for (let round = -1; round < 3; round++) {
      const encoded: Buffer[] = [];
      let t = performance.now();
      for (const g of groups)
        encoded.push((await RecordBatch({ compression, records: g, lastOffsetDelta: g.length - 1 })).buffer);
      if (round >= 0) bestIn = Math.min(bestIn, performance.now() - t);
      bytes = encoded.reduce((n, b) => n + b.length, 0);
      t = performance.now();
      for (const b of encoded) await decodeBatch(new Decoder(b));
      if (round >= 0) bestOut = Math.min(bestOut, performance.now() - t);
    }
    if (codec === 'none') noneBytes = bytes;
    const per = (ms: number): string => ((ms * 1000) / values.length).toFixed(2).padStart(8);
    process.stdout.write(
      `${codec.padEnd(8)} ${(bytes / values.length).toFixed(1).padStart(12)}  ${((100 * bytes) / noneBytes).toFixed(0).padStart(6)} %  ${per(bestIn)}            ${per(bestOut)}\n`,
    );
  }
}

const n = perBatch * batches;
await measure('window results (vigil.aggregates)', windowResults(n));
await measure(
  'readings (vigil.readings, as the bridge writes them)',
  readings(1_000, n, 1_796_000_000_000).map((r) => r.value),
);
