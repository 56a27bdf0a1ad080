/**
 * The engine alone, embedded: no Kafka, no Redis (the in-memory log and state store), the benchmark
 * pipeline. Events/s from the first record to the last checkpoint.
 *
 * The engine runs from dist/, as node processes do: the benchmarks run under tsx, whose transform
 * wraps every closure the engine creates in a naming helper, and cost this figure a fifth.
 */
import { buildConfig } from '../src/config/load.js';
import type * as NodeModule from '../src/node/node.js';
import { silentLogger } from '../src/obs/logger.js';
import { settled } from '../test/support/embedded.js';
import { benchPipeline, readings, type Say } from './lib.js';

export async function embeddedEngine(count: number, stations: number, say: Say): Promise<number> {
  const { startEmbedded } = (await import(
    new URL('../dist/node/node.js', import.meta.url).href
  )) as typeof NodeModule;
  const config = buildConfig({
    node: { id: 'bench-engine' },
    log: { level: 'silent' },
    checkpoint: { interval: '1s', store: 'memory' },
    pipeline: benchPipeline(),
  });
  const input = readings(stations, count, Date.now() - 3_600_000);
  const node = await startEmbedded(config, silentLogger);
  const started = performance.now();
  node.records.append([{ topic: config.kafka.topics.readings, messages: input }]);
  await settled(node.records, config, 600_000);
  const seconds = (performance.now() - started) / 1000;
  await node.stop();
  say(`    ${count} readings of ${stations} stations in ${seconds.toFixed(2)} s`);
  return count / seconds;
}
