import { applySensorWrite, type StoredSensor } from '../core/checkpoint.js';
import type { RollupRecord } from '../core/outputs.js';
import { StaleEpochError } from '../core/errors.js';
import {
  partitionKey,
  FREQUENCY_TTL_S,
  type CheckpointWrite,
  type EventCounts,
  type Frequencies,
  type PartitionRef,
  type RestoredPartition,
  type StateStore,
} from './state-store.js';

interface Stored {
  epoch: number;
  offset: string | undefined;
  partitionState: Buffer | undefined;
  sensors: Map<string, StoredSensor>;
  clock: Map<string, string>;
}

/**
 * State in the process's memory: embedded mode and fast tests. Shared by every engine in the process
 * that is given the same instance, so fencing between two "nodes" in one test works as with Redis.
 */
export class MemoryStateStore implements StateStore {
  private readonly partitions = new Map<string, Stored>();
  /** `${sensorId}\0${metric}` -> minute -> record */
  private readonly rollupsBySeries = new Map<string, Map<number, RollupRecord>>();
  /** minute -> `${sensorId}\0${metric}` -> packed readings (kept as long as the process: no ttl here) */
  private readonly raw = new Map<number, Map<string, Buffer>>();

  private stored(p: PartitionRef): Stored {
    const key = partitionKey(p);
    let s = this.partitions.get(key);
    if (s === undefined) {
      s = { epoch: 0, offset: undefined, partitionState: undefined, sensors: new Map(), clock: new Map() };
      this.partitions.set(key, s);
    }
    return s;
  }

  acquire(p: PartitionRef): Promise<RestoredPartition> {
    const s = this.stored(p);
    s.epoch += 1;
    return Promise.resolve({
      epoch: s.epoch,
      offset: s.offset,
      partitionState: s.partitionState,
      sensorIds: [...s.sensors.keys()],
      clockEntries: new Map(s.clock),
    });
  }

  epoch(p: PartitionRef): Promise<number> {
    return Promise.resolve(this.stored(p).epoch);
  }

  commit(p: PartitionRef, w: CheckpointWrite): Promise<void> {
    const s = this.stored(p);
    if (s.epoch !== w.epoch) return Promise.reject(new StaleEpochError(partitionKey(p), w.epoch, s.epoch));
    s.offset = w.offset;
    s.partitionState = w.partitionState;
    for (const [id, write] of w.sensors) s.sensors.set(id, applySensorWrite(s.sensors.get(id), write));
    for (const [id, entry] of w.clockEntries ?? []) {
      if (entry === null) s.clock.delete(id);
      else s.clock.set(id, entry);
    }
    for (const r of w.raw ?? []) {
      let minute = this.raw.get(r.minute);
      if (minute === undefined) {
        minute = new Map();
        this.raw.set(r.minute, minute);
      }
      const field = `${r.sensorId}\u0000${r.metric}`;
      const old = minute.get(field);
      minute.set(field, old === undefined ? Buffer.from(r.bytes) : Buffer.concat([old, r.bytes]));
    }
    for (const r of w.rollups) {
      const series = `${r.sensorId}\u0000${r.metric}`;
      let byMinute = this.rollupsBySeries.get(series);
      if (byMinute === undefined) {
        byMinute = new Map();
        this.rollupsBySeries.set(series, byMinute);
      }
      byMinute.set(r.minute, r);
    }
    return Promise.resolve();
  }

  loadSensors(p: PartitionRef, sensorIds: readonly string[]): Promise<Map<string, StoredSensor>> {
    const stored = this.partitions.get(partitionKey(p))?.sensors;
    const out = new Map<string, StoredSensor>();
    for (const id of sensorIds) {
      const v = stored?.get(id);
      // A copy: the store's own maps change with later commits.
      if (v !== undefined) out.set(id, { main: v.main, parts: new Map(v.parts) });
    }
    return Promise.resolve(out);
  }

  private readonly counts = new Map<number, { sensors: Map<string, number>; types: Map<string, number> }>();

  addFrequencies(second: number, c: EventCounts): Promise<void> {
    let at = this.counts.get(second);
    if (at === undefined) {
      at = { sensors: new Map(), types: new Map() };
      this.counts.set(second, at);
    }
    for (const [k, n] of c.sensors) at.sensors.set(k, (at.sensors.get(k) ?? 0) + n);
    for (const [k, n] of c.types) at.types.set(k, (at.types.get(k) ?? 0) + n);
    for (const s of this.counts.keys()) if (s < second - FREQUENCY_TTL_S) this.counts.delete(s);
    return Promise.resolve();
  }

  frequencies(second: number, windowS: number): Promise<Frequencies> {
    const sensors: Record<string, number> = {};
    const types: Record<string, number> = {};
    for (let s = second - windowS; s < second; s++) {
      const at = this.counts.get(s);
      if (at === undefined) continue;
      for (const [k, n] of at.sensors) sensors[k] = (sensors[k] ?? 0) + n / windowS;
      for (const [k, n] of at.types) types[k] = (types[k] ?? 0) + n / windowS;
    }
    return Promise.resolve({ sensors, types });
  }

  series(): Promise<{ sensorId: string; metric: string }[]> {
    return Promise.resolve(
      [...this.rollupsBySeries.keys()].map((k) => {
        const [sensorId = '', metric = ''] = k.split('\u0000');
        return { sensorId, metric };
      }),
    );
  }

  rollups(sensorId: string, metric: string, from: number, to: number): Promise<RollupRecord[]> {
    const byMinute = this.rollupsBySeries.get(`${sensorId}\u0000${metric}`);
    if (byMinute === undefined) return Promise.resolve([]);
    return Promise.resolve(
      [...byMinute.values()]
        .filter((r) => r.minute >= from && r.minute < to)
        .sort((a, b) => a.minute - b.minute),
    );
  }

  rawMinutesKept(from: number, to: number): Promise<number[]> {
    return Promise.resolve([...this.raw.keys()].filter((m) => m >= from && m < to).sort((a, b) => a - b));
  }

  rawMinutes(sensorId: string, metric: string, minutes: readonly number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    for (const m of minutes) {
      const bytes = this.raw.get(m)?.get(`${sensorId}\u0000${metric}`);
      if (bytes !== undefined) out.set(m, Buffer.from(bytes));
    }
    return Promise.resolve(out);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
