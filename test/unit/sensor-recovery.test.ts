import { describe, expect, it } from 'vitest';
import { markOutputs, rollbackOutputs } from '../../src/core/output-marks.js';
import { newOutputBuffer, type OutputBuffer } from '../../src/core/outputs.js';
import { SensorProcessor, type SensorPipeline } from '../../src/core/sensor.js';
import { runEvents, type SensorRun } from '../../src/core/sensor-recovery.js';
import { testPipeline } from '../support/pipeline.js';

describe('a poison reading', () => {
  it('leaves nothing behind: not its window counts, not its raw reading for the metrics query', () => {
    const base = testPipeline();
    let poisoned = false;
    // Rules are read after the reading has been taken into the windows and the raw minutes.
    const pipeline: SensorPipeline = {
      ...base,
      get rules() {
        if (poisoned) throw new Error('a rule failed');
        return base.rules;
      },
    };
    const run: SensorRun = { processor: new SensorProcessor('s', pipeline), since: [] };
    const out = newOutputBuffer();
    const r = (ts: number, t: number) => ({ sensorId: 's', ts, values: { t } });
    expect(runEvents(run, [r(1_000, 20), r(2_000, 21)], 0, out)).toEqual({ poisoned: false });
    expect(out.raw).toHaveLength(2);
    poisoned = true;
    const outcome = runEvents(run, [r(3_000, 22)], 0, out);
    expect(outcome.poisoned).toBe(true);
    // It goes to the dead-letter topic: were it kept raw, the metrics API would count it as well.
    expect(out.raw.map((x) => x.ts)).toEqual([1_000, 2_000]);
  });
});

describe('output marks', () => {
  it('roll back every list of the buffer', () => {
    const out = newOutputBuffer();
    const marks = markOutputs(out);
    const lists = Object.entries(out) as [keyof OutputBuffer, unknown[]][];
    for (const [, list] of lists) list.push({});
    rollbackOutputs(out, marks);
    for (const [key, list] of lists) expect(list, key).toHaveLength(0);
  });
});
