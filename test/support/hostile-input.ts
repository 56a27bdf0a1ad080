import { Random } from '../../src/sim/random.js';
import type { InputRecord } from './acceptance.js';

/** How much hostile input a run mixes into its good input. */
export interface HostileOptions {
  /** Records of each hostile class, at seeded places among the good records. */
  readonly perClass: number;
  /** New sensors in one burst (each with one valid reading), produced at once. */
  readonly burst: number;
  readonly seed: number;
}

/** Year 3000: centuries past any broker's time. */
const YEAR_3000 = 32_503_680_000_000;

/**
 * The classes of records from outside that stopped partitions before (issue 13). Each takes the good
 * record it is put after as a model (its key, its time): a clock bomb is dated in the year 3000 for a
 * sensor that is sending good readings, in that sensor's partition.
 */
const CLASSES: Readonly<
  Record<string, (model: InputRecord, ts: number, i: number, r: Random) => InputRecord>
> = {
  oversized: (_m, ts, i) => ({
    key: `hx-big-${i}`,
    value: JSON.stringify({
      sensorId: `hx-big-${i}`,
      ts,
      values: { temperature: 1 },
      note: 'x'.repeat(300_000),
    }),
  }),
  clockBomb: (m) => ({
    key: m.key,
    value: JSON.stringify({ sensorId: m.key, ts: YEAR_3000, values: { temperature: 99 } }),
  }),
  wide: (_m, ts, i) => ({
    key: `hx-wide-${i}`,
    value: JSON.stringify({
      sensorId: `hx-wide-${i}`,
      ts,
      values: Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`m${k}`, k])),
    }),
  }),
  longId: (_m, ts, i) => {
    const id = `${'L'.repeat(300)}${i}`;
    return { key: id, value: JSON.stringify({ sensorId: id, ts, values: { temperature: 1 } }) };
  },
  proto: (_m, ts, i) => ({
    key: `hx-proto-${i}`,
    value: `{"sensorId":"hx-proto-${i}","ts":${ts},"values":{"__proto__":1,"temperature":2}}`,
  }),
  huge: (_m, ts, i) => ({
    key: `hx-huge-${i}`,
    value: JSON.stringify({ sensorId: `hx-huge-${i}`, ts, values: { temperature: 1e300 } }),
  }),
  garbage: (_m, _ts, i, r) => ({
    key: `hx-garbage-${i}`,
    value: Array.from({ length: 64 }, () => String.fromCharCode(Math.floor(r.next() * 256))).join(''),
  }),
  empty: (_m, _ts, i) => ({ key: `hx-empty-${i}`, value: '' }),
};

export const HOSTILE_CLASSES = Object.keys(CLASSES);

function tsOf(record: InputRecord): number | undefined {
  try {
    const ts = (JSON.parse(record.value) as { ts?: unknown }).ts;
    return typeof ts === 'number' ? ts : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `good` with hostile records mixed in at seeded places before its last `keepLast` records (the
 * sentinels that end a run), and a burst of new sensors in the middle. Returns the records and how many
 * of them are hostile (each must become a dead letter; the burst's are good readings).
 */
export function withHostileInput(
  good: readonly InputRecord[],
  o: HostileOptions,
  keepLast: number,
): { records: InputRecord[]; hostile: number } {
  const random = new Random(o.seed);
  const body = good.slice(0, good.length - keepLast);
  const inserts = new Map<number, InputRecord[]>();
  const at = (i: number, r: InputRecord): void => {
    inserts.set(i, [...(inserts.get(i) ?? []), r]);
  };
  let hostile = 0;
  for (const make of Object.values(CLASSES)) {
    for (let k = 0; k < o.perClass; k++) {
      let i = Math.floor(random.next() * body.length);
      while (i > 0 && tsOf(body[i] as InputRecord) === undefined) i--;
      const model = body[i] as InputRecord;
      at(i, make(model, tsOf(model) ?? 0, hostile, random));
      hostile++;
    }
  }
  const middle = Math.floor(body.length / 2);
  const ts = tsOf(body[middle] as InputRecord) ?? 0;
  for (let b = 0; b < o.burst; b++) {
    const id = `nb-${String(b).padStart(6, '0')}`;
    at(middle, {
      key: id,
      value: JSON.stringify({ sensorId: id, ts, values: { humidity: 50 } }),
      burst: true,
    });
  }
  const records: InputRecord[] = [];
  body.forEach((r, i) => {
    records.push(r, ...(inserts.get(i) ?? []));
  });
  records.push(...good.slice(good.length - keepLast));
  return { records, hostile };
}
