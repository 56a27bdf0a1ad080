import { CitySimulator, stationId, type CityOptions } from './city.js';
import { Random } from './random.js';

export interface StreamOptions extends CityOptions {
  /** Readings per second of EVENT time: record i has ts = startTs + ⌊i·1000/rate⌋. */
  readonly rate: number;
  readonly startTs: number;
  /** Fractions (0..1) of records that are repeats, shifted back a little, far too late, or malformed. */
  readonly duplicateRatio?: number;
  readonly outOfOrderRatio?: number;
  readonly lateRatio?: number;
  readonly malformedRatio?: number;
  /** Out-of-order records are moved back by up to this much (default 1.5 s). */
  readonly outOfOrderMaxMs?: number;
  /** Late records are moved back by this much (default 10 min). */
  readonly lateByMs?: number;
}

export interface StreamRecord {
  readonly key: string;
  readonly value: string;
  readonly kind: 'reading' | 'duplicate' | 'out-of-order' | 'late' | 'malformed';
}

const MALFORMED: readonly ((id: string, ts: number) => string)[] = [
  (id, ts) => `{"sensorId":"${id}","ts":${ts},"values":{"temperature":`, // truncated JSON
  (_id, ts) => `{"sensorId":"","ts":${ts},"values":{"temperature":20}}`, // an empty sensorId
  (id, ts) => `{"sensorId":"${id}","ts":${ts},"values":{"temperature":"warm"}}`, // not a number
  (id) => `{"sensorId":"${id}","ts":"yesterday","values":{"humidity":50}}`, // bad time
  (id, ts) => `{"sensorId":"${id}","ts":${ts},"values":{}}`, // no values
];

/**
 * The seeded record stream the simulator publishes: city readings with a chosen share of repeats,
 * out-of-order and late readings, and malformed payloads. Everything, faults included, derives from
 * the seed and the record index, so a test can regenerate exactly what was published.
 */
export class CityStream {
  private readonly city: CitySimulator;
  private readonly faults: Random;
  private index = 0;
  private previous: StreamRecord | undefined;

  constructor(private readonly o: StreamOptions) {
    this.city = new CitySimulator(o);
    this.faults = new Random((o.seed ^ 0x5eed) >>> 0);
  }

  next(): StreamRecord {
    const i = this.index++;
    const ts = this.o.startTs + Math.floor((i * 1000) / this.o.rate);
    const roll = this.faults.next();
    const dup = this.o.duplicateRatio ?? 0;
    const ooo = this.o.outOfOrderRatio ?? 0;
    const late = this.o.lateRatio ?? 0;
    const bad = this.o.malformedRatio ?? 0;
    if (roll < dup && this.previous !== undefined && this.previous.kind !== 'malformed') {
      return { ...this.previous, kind: 'duplicate' };
    }
    if (roll < dup + bad) {
      const id = stationId(this.faults.int(this.o.stations));
      const make = MALFORMED[this.faults.int(MALFORMED.length)] ?? MALFORMED[0];
      return { key: id, value: make?.(id, ts) ?? '', kind: 'malformed' };
    }
    let eventTs = ts;
    let kind: StreamRecord['kind'] = 'reading';
    if (roll < dup + bad + ooo) {
      eventTs = ts - this.faults.int(this.o.outOfOrderMaxMs ?? 1_500);
      kind = 'out-of-order';
    } else if (roll < dup + bad + ooo + late) {
      eventTs = ts - (this.o.lateByMs ?? 600_000);
      kind = 'late';
    }
    const reading = this.city.next(Math.max(0, eventTs));
    const record = { key: reading.sensorId, value: JSON.stringify(reading), kind };
    this.previous = record;
    return record;
  }

  /** Event time of the next record (before faults). */
  get clock(): number {
    return this.o.startTs + Math.floor((this.index * 1000) / this.o.rate);
  }
}
