import type { DeadLetter, OutgoingRecord, RecordSource } from './outputs.js';
import { partitionForKey } from './partitioner.js';
import type { DecodeResult, Reading } from './reading.js';
import type { SensorEvent } from './sensor.js';
import type { StreamClock, Tick } from './stream-clock.js';

/** The parts of a log record the router reads. */
export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  /** Epoch ms the broker took the record (LogAppendTime topics), or its producer's time. */
  readonly timestamp?: string;
}

/**
 * A record carrying this header is Vigil's own control record, never data: a log fetcher's probe after
 * a crash (`probe`, skipped), or a log source's idle mark (`idle`, see log-record.ts).
 */
export const CONTROL_HEADER = 'vigil-control';

/**
 * A record the Kafka client could not decompress stands in for its batch (transport/kafka/codecs.ts):
 * the first record of the batch carries this header, the reason, and the batch's raw bytes, and is a
 * dead letter; the others carry `skip`. Any record with the header is read so, whoever wrote it.
 */
export const UNDECODABLE_HEADER = 'vigil-undecodable';

/** A reading the router sent on to its sensor's own partition carries where it came from: `<partition>:<offset>`. */
export const FORWARDED_HEADER = 'vigil-forwarded-from';

/** What one record of a stream means to the engine. */
export type RecordMeaning =
  | { readonly kind: 'reading'; readonly reading: Reading }
  /** The source stopped writing: its windows may close up to event time `ts` (log-record.ts). */
  | { readonly kind: 'idle'; readonly sensorId: string; readonly ts: number }
  | { readonly kind: 'skip' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** A stream's decoder: the readings stream's, or the log stream's. */
export type RecordDecoder = (record: RawRecord) => RecordMeaning;

/** A header's value as text, if the record has it. */
export function headerOf(record: RawRecord, name: string): string | undefined {
  const v = record.headers?.[name];
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined;
}

/** The control header's value, if the record has one. */
export const controlOf = (record: RawRecord): string | undefined => headerOf(record, CONTROL_HEADER);

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

/** One partition's routing: where it is, how its records are read, and what it remembers. */
export interface Route {
  readonly topic: string;
  readonly partition: number;
  /** The topic's partition count: a sensor's own partition is murmur2(sensorId) of it, as Kafka's. */
  readonly partitions: number;
  readonly clock: StreamClock;
  readonly decode: RecordDecoder;
  /** Event time this far ahead of the record's broker time is a dead letter (limits.maxFuture). */
  readonly maxFutureMs: number;
  /**
   * Forwarded readings taken, per origin partition: the highest origin offset. Checkpointed with the
   * partition, so a forward repeated by its origin's replay is taken once.
   */
  readonly forwarded: Map<number, bigint>;
}

export interface RoutedBatch {
  /** Sensor id -> its events (readings and clock ticks) in log order. */
  readonly groups: Map<string, SensorEvent[]>;
  readonly deadLetters: DeadLetter[];
  /** Readings that belong to another partition, to send there (the repartition step). */
  readonly forwards: OutgoingRecord[];
  readonly sources: RecordSources;
  readonly records: number;
}

/**
 * Turns one batch of one partition into per-sensor event lists: decodes and validates every record
 * (bad ones become dead letters with their reason), advances the partition's stream clock record by
 * record, and inserts each due clock tick into its sensor's list at that point of the log.
 * `decode` is the stream's: a sensor reading, or a log line as a reading of its source (and a log
 * source's idle mark, which becomes an idle tick of that source at its place in the log).
 *
 * Defences, each deterministic (a replay decides the same, from what the log holds):
 *  - every sensor has ONE owner, whatever the producer's partitioner or key: a reading on a partition
 *    that is not its sensor's own is forwarded there (as Kafka Streams repartitions), marked with its
 *    origin; the owner takes each origin offset once;
 *  - time: a reading dated more than maxFuture after the broker took it is a dead letter, and stream
 *    time (which drives every sensor's idle and silence ticks) never passes the broker's time of the
 *    record, so one sensor's clock can move no other sensor's watermark or idle timeout.
 */
export function routeBatch(records: readonly RawRecord[], route: Route): RoutedBatch {
  const { topic, partition, clock } = route;
  const groups = new Map<string, SensorEvent[]>();
  const deadLetters: DeadLetter[] = [];
  const forwards: OutgoingRecord[] = [];
  const offsets = new WeakMap<Reading, string>();
  const push = (sensorId: string, event: SensorEvent): void => {
    const list = groups.get(sensorId);
    if (list === undefined) groups.set(sensorId, [event]);
    else list.push(event);
  };
  const onTick = (sensorId: string, tick: Tick): void => {
    push(sensorId, tick);
  };
  const dead = (record: RawRecord, reason: string): void => {
    deadLetters.push({
      source: { topic, partition, offset: record.offset },
      key: record.key,
      payload: record.value,
      reason,
    });
  };
  for (const record of records) {
    const undecodable = headerOf(record, UNDECODABLE_HEADER);
    if (undecodable !== undefined) {
      if (undecodable !== 'skip') dead(record, undecodable);
      continue;
    }
    const meaning = route.decode(record);
    if (meaning.kind === 'skip') continue;
    if (meaning.kind === 'invalid') {
      dead(record, meaning.reason);
      continue;
    }
    const sensorId = meaning.kind === 'idle' ? meaning.sensorId : meaning.reading.sensorId;
    const home = partitionForKey(sensorId, route.partitions);
    const placed = place(record, home, route);
    if (placed === 'forward') {
      forwards.push(forwardOf(record, sensorId, partition));
      continue;
    }
    if (placed === 'repeat') continue;
    if (placed !== 'take') {
      dead(record, placed.refused);
      continue;
    }
    const brokerTime = record.timestamp === undefined ? undefined : Number(record.timestamp);
    const ts = meaning.kind === 'idle' ? meaning.ts : meaning.reading.ts;
    if (brokerTime !== undefined && ts > brokerTime + route.maxFutureMs) {
      dead(record, futureReason(ts, brokerTime, route.maxFutureMs));
      continue;
    }
    if (meaning.kind === 'idle') {
      push(sensorId, { tick: 'idle', streamTime: meaning.ts, lastSeen: meaning.ts });
      continue;
    }
    const reading = meaning.reading;
    offsets.set(reading, record.offset);
    push(sensorId, reading);
    clock.observe(sensorId, brokerTime === undefined ? reading.ts : Math.min(reading.ts, brokerTime), onTick);
  }
  return { groups, deadLetters, forwards, sources: { topic, partition, offsets }, records: records.length };
}

/** take, forward, repeat, or the reason it can be none of them. */
type Placement = 'take' | 'forward' | 'repeat' | { readonly refused: string };

/**
 * Whether a record is this partition's to process (`take`), to forward to its sensor's own partition,
 * a forward already taken (`repeat`: its origin replayed), or a reason it can be neither.
 */
function place(record: RawRecord, home: number, route: Route): Placement {
  const from = headerOf(record, FORWARDED_HEADER);
  if (from === undefined) return home === route.partition ? 'take' : 'forward';
  if (home !== route.partition)
    return {
      refused: `forwarded to partition ${route.partition}, not its sensor's own (${home}): kafka.partitions does not match the topic`,
    };
  const m = /^(\d+):(\d+)$/.exec(from);
  if (m === null)
    return { refused: `the ${FORWARDED_HEADER} header "${from.slice(0, 64)}" is not <partition>:<offset>` };
  const origin = Number(m[1]);
  const offset = BigInt(m[2] ?? '0');
  const upTo = route.forwarded.get(origin);
  if (upTo !== undefined && offset <= upTo) return 'repeat';
  route.forwarded.set(origin, offset);
  return 'take';
}

function forwardOf(record: RawRecord, sensorId: string, partition: number): OutgoingRecord {
  return {
    key: sensorId,
    value: record.value,
    headers: {
      [FORWARDED_HEADER]: `${partition}:${record.offset}`,
      ...(controlOf(record) === undefined ? {} : { [CONTROL_HEADER]: controlOf(record) ?? '' }),
    },
  };
}

function futureReason(ts: number, brokerTime: number, maxFutureMs: number): string {
  const ahead = Math.round((ts - brokerTime) / 1000);
  return `event time ${ts} is ${ahead} s after the broker took the record (${brokerTime}): over limits.maxFuture (${maxFutureMs / 1000} s)`;
}
