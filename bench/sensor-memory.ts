/**
 * Heap per sensor: N SensorProcessors (the acceptance pipeline) each fed `perSensor` readings at
 * 2 readings/s of event time, then the heap is measured after a full GC.
 *
 *   node --expose-gc --import tsx bench/sensor-memory.ts [sensors=10000] [perSensor=600]
 */
import { buildConfig } from '../src/config/load.js';
import { newOutputBuffer } from '../src/core/outputs.js';
import { SensorProcessor } from '../src/core/sensor.js';
import { acceptancePipeline } from '../test/support/acceptance.js';

const sensors = Number(process.argv[2] ?? 10_000);
const perSensor = Number(process.argv[3] ?? 600);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const { pipeline } = buildConfig({ pipeline: acceptancePipeline() });

gc();
const before = process.memoryUsage().heapUsed;
const processors: SensorProcessor[] = [];
const out = newOutputBuffer();
for (let s = 0; s < sensors; s++) processors.push(new SensorProcessor(`st-${s}`, pipeline));
for (let i = 0; i < perSensor; i++) {
  for (let s = 0; s < sensors; s++) {
    const ts = 1_795_000_000_000 + i * 500 + s;
    (processors[s] as SensorProcessor).process(
      {
        sensorId: `st-${s}`,
        ts,
        values: {
          temperature: 25 + (i % 7) * 0.13,
          humidity: 60 - (i % 5) * 0.31,
          noise_level: 50 + (s % 3),
        },
        seq: i,
      },
      out,
    );
  }
  out.windowResults.length = 0;
  out.alerts.length = 0;
  out.rollups.length = 0;
}
gc();
const after = process.memoryUsage().heapUsed;
// Read the processors after the measurement so they are alive when it is taken.
const open = processors.reduce((n, p) => n + (p.watermark > 0 ? 1 : 0), 0);
process.stdout.write(
  `${open} sensors after ${perSensor} readings each: ${((after - before) / sensors / 1024).toFixed(1)} KiB heap per sensor (${((after - before) / 1048576).toFixed(0)} MiB)\n`,
);
