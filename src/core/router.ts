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
 * A record carrying this header is Vigil's own control record, never data: a log fetcher's probe after
 * a crash (`probe`, skipped), or a log source's idle mark (`idle`, see log-record.ts).
 */
export const CONTROL_HEADER = 'vigil-control';

/** What one record of a stream means to the engine. */
export type RecordMeaning =
  | { readonly kind: 'reading'; readonly reading: Reading }
  /** The source stopped writing: its windows may close up to event time `ts` (log-record.ts). */
  | { readonly kind: 'idle'; readonly sensorId: string; readonly ts: number }
  | { readonly kind: 'skip' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** A stream's decoder: the readings stream's, or the log stream's. */
export type RecordDecoder = (record: RawRecord) => RecordMeaning;

/** The control header's value, if the record has one. */
export function controlOf(record: RawRecord): string | undefined {
  const v = record.headers?.[CONTROL_HEADER];
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined;
}

/** Decodes records of `decode`'s kind; control records are skipped. */
export function readingsDecoder(decode: (raw: Buffer | null) => DecodeResult<Reading>): RecordDecoder {
  return (record) => {
    if (controlOf(record) !== undefined) return { kind: 'skip' };
    const d = decode(record.value);
    return d.ok ? { kind: 'reading', reading: d.value } : { kind: 'invalid', reason: d.reason };
  };
}

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
 * `decode` is the stream's: a sensor reading, or a log line as a reading of its source (and a log
 * source's idle mark, which becomes an idle tick of that source at its place in the log).
 */
export function routeBatch(
  records: readonly RawRecord[],
  topic: string,
  partition: number,
  clock: StreamClock,
  decode: RecordDecoder,
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
    const meaning = decode(record);
    if (meaning.kind === 'skip') continue;
    if (meaning.kind === 'idle') {
      push(meaning.sensorId, { tick: 'idle', streamTime: meaning.ts, lastSeen: meaning.ts });
      continue;
    }
    if (meaning.kind === 'invalid') {
      const source: RecordSource = { topic, partition, offset: record.offset };
      deadLetters.push({ source, key: record.key, payload: record.value, reason: meaning.reason });
      continue;
    }
    const reading = meaning.reading;
    offsets.set(reading, record.offset);
    push(reading.sensorId, reading);
    clock.observe(reading.sensorId, reading.ts, onTick);
  }
  return { groups, deadLetters, sources: { topic, partition, offsets }, records: records.length };
}
