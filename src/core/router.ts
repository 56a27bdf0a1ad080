import type { DeadLetter, RecordSource } from './outputs.js';
import type { DecodeResult, Reading } from './reading.js';
import type { SensorEvent } from './sensor.js';
import type { StreamClock, Tick } from './stream-clock.js';

/** The parts of a log record the router reads. */
export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly headers?: Readonly<Record<string, unknown>>;
}

/**
 * A record carrying this header is Vigil's own control record (a log fetcher's probe after a crash),
 * never data: it is skipped. (The same name as log/source-log.ts's CONTROL_HEADER; core has no I/O
 * imports.)
 */
export const CONTROL_HEADER = 'vigil-control';

/** Where the readings of one batch came from: for a reading that later proves poisonous or late. */
export interface RecordSources {
  readonly topic: string;
  readonly partition: number;
  /** Each reading's offset. */
  readonly offsets: WeakMap<Reading, string>;
}

/** The record a reading came from (`unknown` offset: a reading held while paused, whose record is long gone). */
export function sourceOf(sources: RecordSources, reading: Reading): RecordSource {
  return {
    topic: sources.topic,
    partition: sources.partition,
    offset: sources.offsets.get(reading) ?? 'unknown',
  };
}

export interface RoutedBatch {
  /** Sensor id -> its events (readings and clock ticks) in log order. */
  readonly groups: Map<string, SensorEvent[]>;
  readonly deadLetters: DeadLetter[];
  readonly sources: RecordSources;
  readonly records: number;
}

/**
 * Turns one batch of one partition into per-sensor event lists: decodes and validates every record
 * (bad ones become dead letters with their reason), advances the partition's stream clock record by
 * record, and inserts each due clock tick into its sensor's list at that point of the log.
 * `decode` is the stream's: a sensor reading, or a log line as a reading of its source.
 */
export function routeBatch(
  records: readonly RawRecord[],
  topic: string,
  partition: number,
  clock: StreamClock,
  decode: (raw: Buffer | null) => DecodeResult<Reading>,
): RoutedBatch {
  const groups = new Map<string, SensorEvent[]>();
  const deadLetters: DeadLetter[] = [];
  const offsets = new WeakMap<Reading, string>();
  const push = (sensorId: string, event: SensorEvent): void => {
    const list = groups.get(sensorId);
    if (list === undefined) groups.set(sensorId, [event]);
    else list.push(event);
  };
  const onTick = (sensorId: string, tick: Tick): void => {
    push(sensorId, tick);
  };
  for (const record of records) {
    if (record.headers?.[CONTROL_HEADER] !== undefined) continue;
    const decoded = decode(record.value);
    if (!decoded.ok) {
      const source: RecordSource = { topic, partition, offset: record.offset };
      deadLetters.push({ source, key: record.key, payload: record.value, reason: decoded.reason });
      continue;
    }
    const reading = decoded.value;
    offsets.set(reading, record.offset);
    push(reading.sensorId, reading);
    clock.observe(reading.sensorId, reading.ts, onTick);
  }
  return { groups, deadLetters, sources: { topic, partition, offsets }, records: records.length };
}
