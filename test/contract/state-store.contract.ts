import { describe, expect, it } from 'vitest';
import type { RollupRecord } from '../../src/core/outputs.js';
import type { RawMinute } from '../../src/core/raw-minutes.js';
import { StaleEpochError } from '../../src/core/errors.js';
import type { StoredSensor } from '../../src/core/checkpoint.js';
import type { CheckpointWrite, PartitionRef, StateStore } from '../../src/ports/state-store.js';

let counter = 0;
/** A partition no other test has used. */
const fresh = (): PartitionRef => ({
  topic: `contract-${process.pid}-${Date.now()}-${counter++}`,
  partition: counter % 4,
});

/** A sensor's write: its main record, parts to set (a string) or remove (null), bytes to append. */
type SensorSpec =
  string | { main: string; parts: Record<string, string | null>; appends?: Record<string, string> };

const write = (
  epoch: number,
  offset: string,
  sensors: Record<string, SensorSpec>,
  rollups: RollupRecord[] = [],
): CheckpointWrite => ({
  epoch,
  offset,
  partitionState: Buffer.from(`state@${offset}`),
  sensors: new Map(
    Object.entries(sensors).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? { main: Buffer.from(v), parts: new Map(), appends: new Map() }
        : {
            main: Buffer.from(v.main),
            parts: new Map(
              Object.entries(v.parts).map(([n, b]) => [n, b === null ? null : Buffer.from(b)] as const),
            ),
            appends: new Map(Object.entries(v.appends ?? {}).map(([n, b]) => [n, Buffer.from(b)] as const)),
          },
    ]),
  ),
  rollups,
});

/** Loaded sensors as plain strings: main, and name=value of each part in name order. */
const asText = (loaded: ReadonlyMap<string, StoredSensor>): Record<string, string[]> =>
  Object.fromEntries(
    [...loaded].map(([id, s]) => [
      id,
      [
        s.main.toString(),
        ...[...s.parts].sort(([a], [b]) => a.localeCompare(b)).map(([n, b]) => `${n}=${b.toString()}`),
      ],
    ]),
  );

const rollup = (sensorId: string, minute: number, count: number): RollupRecord => ({
  sensorId,
  metric: 'temperature',
  minute,
  acc: [count, count * 2, 1, 3, 2, 0.5, minute, 1, minute + 1, 3, null],
});

/**
 * What every StateStore must do (MQTT.js abstract_store style): the same suite runs against the
 * in-memory store (unit) and the Redis store (integration).
 */
export function stateStoreContract(name: string, create: () => StateStore): void {
  describe(`StateStore contract: ${name}`, () => {
    it('a never-checkpointed partition comes back empty with epoch 1', async () => {
      const store = create();
      expect(await store.epoch(fresh())).toBe(0);
      const p = fresh();
      const r = await store.acquire(p);
      expect(r.epoch).toBe(1);
      expect(r.offset).toBeUndefined();
      expect(r.partitionState).toBeUndefined();
      expect(r.sensorIds).toEqual([]);
      await store.close();
    });

    it(
      'takes a checkpoint of 50,000 new sensors with parts and clock entries, and loads them back',
      { timeout: 60_000 },
      async () => {
        // A burst of new sensors in one partition: no argument list may be spread into one call.
        const store = create();
        const p = fresh();
        const { epoch } = await store.acquire(p);
        const ids = Array.from({ length: 50_000 }, (_, i) => `burst-${i}`);
        const w = write(
          epoch,
          '50000',
          Object.fromEntries(ids.map((id) => [id, { main: `m-${id}`, parts: { 'p:1': id } }])),
        );
        await store.commit(p, { ...w, clockEntries: new Map(ids.map((id) => [id, '5|i'])) });
        const restored = await store.acquire(p);
        expect(restored.sensorIds).toHaveLength(50_000);
        expect(restored.clockEntries.size).toBe(50_000);
        const loaded = await store.loadSensors(p, ids);
        expect(loaded.size).toBe(50_000);
        expect(
          asText(
            new Map([
              ['burst-49999', loaded.get('burst-49999') ?? { main: Buffer.from(''), parts: new Map() }],
            ]),
          ),
        ).toEqual({
          'burst-49999': ['m-burst-49999', 'p:1=burst-49999'],
        });
      },
    );

    it('restores exactly what was committed, merging sensor snapshots across commits', async () => {
      const store = create();
      const p = fresh();
      const { epoch } = await store.acquire(p);
      await store.commit(p, write(epoch, '10', { a: 'A1', b: 'B1' }));
      await store.commit(p, write(epoch, '25', { b: 'B2', c: 'C1' }));
      const r = await store.acquire(p);
      expect(r.epoch).toBe(epoch + 1);
      expect(r.offset).toBe('25');
      expect(r.partitionState?.toString()).toBe('state@25');
      expect([...r.sensorIds].sort()).toEqual(['a', 'b', 'c']);
      const loaded = await store.loadSensors(p, ['a', 'b', 'c', 'missing']);
      expect(asText(loaded)).toEqual({ a: ['A1'], b: ['B2'], c: ['C1'] });
      expect((await store.loadSensors(p, [])).size).toBe(0);
      await store.close();
    });

    it("keeps each sensor's parts across commits: set, replaced, removed, and left as they are", async () => {
      const store = create();
      const p = fresh();
      const { epoch } = await store.acquire(p);
      await store.commit(p, write(epoch, '1', { a: { main: 'A1', parts: { 'd:1': 'x', 'w:t:0': 'y' } } }));
      await store.commit(
        p,
        write(epoch, '2', {
          a: { main: 'A2', parts: { 'd:1': null, 'd:2': 'z', 'w:t:0': 'y2' } },
          b: { main: 'B1', parts: { 'd:1': 'b' }, appends: { 'd:9': 'new' } },
        }),
      );
      await store.commit(p, write(epoch, '3', { a: { main: 'A3', parts: {}, appends: { 'd:2': '+1' } } }));
      await store.commit(p, write(epoch, '4', { a: { main: 'A4', parts: {}, appends: { 'd:2': '+2' } } }));
      await store.commit(p, write(epoch, '5', { b: 'B2' })); // a main record alone leaves the parts
      expect(asText(await store.loadSensors(p, ['a', 'b']))).toEqual({
        a: ['A4', 'd:2=z+1+2', 'w:t:0=y2'],
        b: ['B2', 'd:1=b', 'd:9=new'],
      });
      await store.close();
    });

    it('keeps the stream clock entries across commits: set, replaced and deleted', async () => {
      const store = create();
      const p = fresh();
      const { epoch } = await store.acquire(p);
      const clock = (entries: Record<string, string | null>) => ({
        ...write(epoch, '1', {}),
        clockEntries: new Map(Object.entries(entries)),
      });
      await store.commit(p, clock({ a: '10|i', b: '20|i|s30000', c: '30|s30000' }));
      await store.commit(p, clock({ b: '40|s30000', c: null }));
      const r = await store.acquire(p);
      expect(Object.fromEntries(r.clockEntries)).toEqual({ a: '10|i', b: '40|s30000' });
      await store.close();
    });

    it('refuses a checkpoint from a stale epoch and leaves the new owner state untouched', async () => {
      const store = create();
      const p = fresh();
      const zombie = await store.acquire(p);
      await store.commit(p, write(zombie.epoch, '5', { a: 'zombie-1' }));
      const owner = await store.acquire(p);
      await store.commit(p, write(owner.epoch, '7', { a: { main: 'owner-1', parts: { 'd:1': 'o' } } }));
      const refused = store.commit(
        p,
        write(
          zombie.epoch,
          '99',
          { a: { main: 'zombie-2', parts: { 'd:2': 'z' }, appends: { 'd:1': 'x' } } },
          [rollup('a', 0, 1)],
        ),
      );
      await expect(refused).rejects.toBeInstanceOf(StaleEpochError);
      await expect(refused).rejects.toMatchObject({
        code: 'CHECKPOINT_FENCED',
        retriable: false,
        epoch: zombie.epoch,
        currentEpoch: owner.epoch,
      });
      expect(await store.epoch(p)).toBe(owner.epoch);
      const r = await store.acquire(p);
      expect(r.offset).toBe('7');
      expect(r.sensorIds).toEqual(['a']);
      expect(asText(await store.loadSensors(p, ['a']))).toEqual({ a: ['owner-1', 'd:1=o'] });
      expect(await store.rollups('a', 'temperature', 0, 60_000)).toEqual([]);
      await store.close();
    });

    it('stores rollups with the checkpoint, one value per minute, queried by range in order', async () => {
      const store = create();
      const p = fresh();
      const sensor = `rollup-${p.topic}`;
      const { epoch } = await store.acquire(p);
      await store.commit(
        p,
        write(epoch, '1', {}, [rollup(sensor, 120_000, 2), rollup(sensor, 0, 1), rollup(sensor, 60_000, 5)]),
      );
      await store.commit(p, write(epoch, '2', {}, [rollup(sensor, 60_000, 5)])); // a replay writes the same minute again
      const all = await store.rollups(sensor, 'temperature', 0, 180_000);
      expect(all.map((r) => [r.minute, r.acc[0]])).toEqual([
        [0, 1],
        [60_000, 5],
        [120_000, 2],
      ]);
      expect(all[1]).toEqual(rollup(sensor, 60_000, 5));
      expect((await store.rollups(sensor, 'temperature', 60_000, 120_000)).map((r) => r.minute)).toEqual([
        60_000,
      ]);
      expect(await store.rollups(sensor, 'humidity', 0, 180_000)).toEqual([]);
      await store.close();
    });

    it('keeps raw readings per series and minute, appended across commits, and an index of the minutes', async () => {
      const store = create();
      const p = fresh();
      const sensor = `raw-${p.topic}`;
      // Minutes of their own: the index is the store's, whatever partition wrote them.
      const m0 = (1_000_000 + Math.floor(Math.random() * 1_000_000)) * 60_000;
      const m1 = m0 + 60_000;
      const { epoch } = await store.acquire(p);
      const bytes = (minute: number, ...pairs: [number, number][]): RawMinute => ({
        sensorId: sensor,
        metric: 'temperature',
        minute,
        bytes: Buffer.concat(
          pairs.map(([offset, v]) => {
            const b = Buffer.alloc(10);
            b.writeUInt16LE(offset, 0);
            b.writeDoubleLE(v, 2);
            return b;
          }),
        ),
      });
      const raw = async (minutes: number[]): Promise<Record<number, string>> =>
        Object.fromEntries(
          [...(await store.rawMinutes(sensor, 'temperature', minutes))].map(([m, b]) => [
            m,
            b.toString('hex'),
          ]),
        );
      await store.commit(p, { ...write(epoch, '1', {}), raw: [bytes(m0, [5, 1.5]), bytes(m1, [0, 2])] });
      await store.commit(p, { ...write(epoch, '2', {}), raw: [bytes(m1, [10, 3])] });
      expect(await store.rawMinutesKept(m0, m1 + 60_000)).toEqual([m0, m1]);
      expect(await store.rawMinutesKept(m1, m1 + 60_000)).toEqual([m1]);
      expect(await raw([m0, m1, m1 + 60_000])).toEqual({
        [m0]: bytes(m0, [5, 1.5]).bytes.toString('hex'),
        [m1]: bytes(m1, [0, 2], [10, 3]).bytes.toString('hex'),
      });
      // Another series of the same minute is a field of its own.
      await store.commit(p, {
        ...write(epoch, '3', {}, [rollup(sensor, m0, 1)]),
        raw: [{ ...bytes(m1, [20, 4]), metric: 'humidity' }],
      });
      expect(await raw([m1])).toEqual({ [m1]: bytes(m1, [0, 2], [10, 3]).bytes.toString('hex') });
      expect((await store.rawMinutes(sensor, 'humidity', [m0, m1])).get(m1)?.length).toBe(10);
      expect(await store.rawMinutes(`${sensor}-other`, 'temperature', [m0, m1])).toEqual(new Map());
      await store.close();
    });

    it('keeps live event frequencies per sensor and type, as events per second over a window', async () => {
      const store = create();
      const s = 1_000_000 + Math.floor(Math.random() * 1_000_000);
      const id = `freq-${s}`;
      await store.addFrequencies(s - 2, { sensors: new Map([[id, 30]]), types: new Map([[`${id}-t`, 60]]) });
      await store.addFrequencies(s - 1, { sensors: new Map([[id, 30]]), types: new Map() });
      await store.addFrequencies(s, { sensors: new Map([[id, 999]]), types: new Map() }); // not before s
      const f = await store.frequencies(s, 60);
      expect(f.sensors[id]).toBeCloseTo(1, 9); // 60 events in the last 60 s
      expect(f.types[`${id}-t`]).toBeCloseTo(1, 9);
      expect((await store.frequencies(s - 2, 60)).sensors[id]).toBeUndefined();
      await store.close();
    });

    it('lists every series that has rollups', async () => {
      const store = create();
      const p = fresh();
      const { epoch } = await store.acquire(p);
      const a = `series-${p.topic}`;
      await store.commit(
        p,
        write(epoch, '1', {}, [
          rollup(a, 0, 1),
          { ...rollup(`${a}-b`, 0, 2), metric: 'humidity' },
          rollup(`${a}:plant/line 3`, 0, 3), // an id with the separators of keys in it
        ]),
      );
      expect(await store.series()).toEqual(
        expect.arrayContaining([
          { sensorId: a, metric: 'temperature' },
          { sensorId: `${a}-b`, metric: 'humidity' },
          { sensorId: `${a}:plant/line 3`, metric: 'temperature' },
        ]),
      );
      await store.close();
    });

    it('keeps partitions apart', async () => {
      const store = create();
      const p = fresh();
      const q = { ...p, partition: p.partition + 1 };
      const a = await store.acquire(p);
      const b = await store.acquire(q);
      await store.commit(p, write(a.epoch, '3', { x: { main: 'p', parts: { 'd:1': 'pp' } } }));
      await store.commit(q, write(b.epoch, '4', { x: { main: 'q', parts: { 'd:2': 'qq' } } }));
      expect(asText(await store.loadSensors(p, ['x']))).toEqual({ x: ['p', 'd:1=pp'] });
      expect(asText(await store.loadSensors(q, ['x']))).toEqual({ x: ['q', 'd:2=qq'] });
      await store.close();
    });
  });
}
