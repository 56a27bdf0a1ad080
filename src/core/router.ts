import type { DeadLetter, OutgoingRecord, RecordSource } from './outputs.js';
import { partitionForKey } from './partitioner.js';
import { decodePayload, encodeReadings, type PayloadSettings } from './payloads/index.js';
import type { Reading } from './reading.js';
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
 * a crash (`probe`, skipped), a log source's idle mark (`idle`, see log-record.ts), a clock record
 * (`clock`: stream time moves to the record's broker time while nothing else comes, see
 * engine/clock-writer.ts), or a sensor declared expected (`expect`, key = the sensor: it is watched by
 * the silence rules from then on, whether it ever reports or not).
 */
export const CONTROL_HEADER = 'vigil-control';
export const CLOCK_CONTROL = 'clock';
export const EXPECT_CONTROL = 'expect';

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
  /** Readings (a payload may carry several, of several sensors), and what of it could not be read. */
  | { readonly kind: 'readings'; readonly readings: readonly Reading[]; readonly errors: readonly string[] }
  /** The source stopped writing: its windows may close up to event time `ts` (log-record.ts). */
  | { readonly kind: 'idle'; readonly sensorId: string; readonly ts: number }
  /** Wall-clock time passed: stream time moves to the record's broker time. */
  | { readonly kind: 'clock' }
  /** The sensor is expected to report: the silence rules watch it from here. */
  | { readonly kind: 'expect'; readonly sensorId: string }
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

/**
 * The vigil.readings decoder: payloads of every shape core/payloads reads, a payload that names no
 * sensor taking the record's key, one that gives no time the record's broker time; clock and expect
 * records; other control records are skipped. A forwarded record holds Vigil's JSON, whatever format
 * the topic is pinned to.
 */
export function readingsDecoder(settings: PayloadSettings): RecordDecoder {
  const forwarded: PayloadSettings = { ...settings, format: 'json' };
  return (record) => {
    const control = controlOf(record);
    if (control !== undefined) {
      if (control === CLOCK_CONTROL) return { kind: 'clock' };
      if (control !== EXPECT_CONTROL) return { kind: 'skip' };
      const sensorId = record.key?.toString('utf8') ?? '';
      return sensorId === '' || sensorId.length > settings.limits.maxSensorIdLength
        ? { kind: 'invalid', reason: 'an expect record names its sensor in its key' }
        : { kind: 'expect', sensorId };
    }
    const key = record.key === null || record.key.length === 0 ? undefined : record.key.toString('utf8');
    const d = decodePayload(
      record.value,
      headerOf(record, FORWARDED_HEADER) === undefined ? settings : forwarded,
      { sensorId: key, receivedAt: record.timestamp === undefined ? undefined : Number(record.timestamp) },
    );
    if (d.readings.length === 0) return { kind: 'invalid', reason: reasonOf(d.errors) };
    return { kind: 'readings', readings: d.readings, errors: d.errors };
  };
}

/** Errors of one record as one dead-letter reason: the first few, and how many more. */
export function reasonOf(errors: readonly string[], max = 5): string {
  const more = errors.length > max ? ` (and ${errors.length - max} more)` : '';
  return errors.slice(0, max).join('; ') + more;
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
  /**
   * Forward a record as it is (log records: one source each, whole in themselves), not its readings
   * in Vigil's JSON (readings: a payload may hold several sensors, and take its sensor or time from
   * the record's key or broker time, which a forward does not keep).
   */
  readonly forwardVerbatim?: boolean;
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
    const brokerTime = record.timestamp === undefined ? undefined : Number(record.timestamp);
    switch (meaning.kind) {
      case 'skip':
        continue;
      case 'invalid':
        dead(record, meaning.reason);
        continue;
      case 'clock':
        if (brokerTime !== undefined) clock.advance(brokerTime, onTick);
        continue;
      case 'readings': {
        const problems = takeReadings(record, meaning.readings, route, { push, forwards, offsets, onTick });
        if (meaning.errors.length + problems.length > 0)
          dead(record, reasonOf([...meaning.errors, ...problems]));
        continue;
      }
      case 'idle':
      case 'expect': {
        const placed = place(record, [partitionForKey(meaning.sensorId, route.partitions)], route);
        if (placed === 'forward') forwards.push(forwardOf(record, meaning.sensorId, partition));
        else if (typeof placed === 'object') dead(record, placed.refused);
        else if (placed === 'repeat') continue;
        else if (meaning.kind === 'expect') clock.expect(meaning.sensorId, onTick);
        else if (brokerTime !== undefined && meaning.ts > brokerTime + route.maxFutureMs)
          dead(record, futureReason(meaning.ts, brokerTime, route.maxFutureMs));
        else push(meaning.sensorId, { tick: 'idle', streamTime: meaning.ts, lastSeen: meaning.ts });
        continue;
      }
    }
  }
  return { groups, deadLetters, forwards, sources: { topic, partition, offsets }, records: records.length };
}

interface Taking {
  readonly push: (sensorId: string, event: SensorEvent) => void;
  readonly forwards: OutgoingRecord[];
  readonly offsets: WeakMap<Reading, string>;
  readonly onTick: (sensorId: string, tick: Tick) => void;
}

/**
 * The readings of one record: those of this partition's sensors go to them (stream time moving with
 * each), the others are forwarded, one record per partition they belong to. Returns why any could
 * not be taken (the record is then a dead letter with those reasons, the rest still taken).
 */
function takeReadings(record: RawRecord, readings: readonly Reading[], route: Route, t: Taking): string[] {
  const { partition, clock } = route;
  const homes = readings.map((r) => partitionForKey(r.sensorId, route.partitions));
  const placed = place(record, homes, route);
  if (placed === 'repeat') return [];
  if (typeof placed === 'object') return [placed.refused];
  const brokerTime = record.timestamp === undefined ? undefined : Number(record.timestamp);
  const problems: string[] = [];
  let away: Map<number, Reading[]> | undefined;
  readings.forEach((reading, i) => {
    const home = homes[i] as number;
    if (home !== partition) {
      away ??= new Map();
      const list = away.get(home);
      if (list === undefined) away.set(home, [reading]);
      else list.push(reading);
      return;
    }
    if (brokerTime !== undefined && reading.ts > brokerTime + route.maxFutureMs) {
      problems.push(futureReason(reading.ts, brokerTime, route.maxFutureMs));
      return;
    }
    t.offsets.set(reading, record.offset);
    t.push(reading.sensorId, reading);
    clock.observe(
      reading.sensorId,
      brokerTime === undefined ? reading.ts : Math.min(reading.ts, brokerTime),
      t.onTick,
    );
  });
  if (away !== undefined)
    for (const group of away.values())
      t.forwards.push(
        route.forwardVerbatim
          ? forwardOf(record, (group[0] as Reading).sensorId, partition)
          : {
              key: (group[0] as Reading).sensorId,
              value: encodeReadings(group),
              headers: { [FORWARDED_HEADER]: `${partition}:${record.offset}` },
            },
      );
  return problems;
}

/** take, forward, repeat, or the reason it can be none of them. */
type Placement = 'take' | 'forward' | 'repeat' | { readonly refused: string };

/**
 * Whether a record is this partition's to process (`take`: some of its sensors are this partition's),
 * only to forward (every sensor is another partition's), a forward already taken (`repeat`: its origin
 * replayed), or a reason it can be none of them. A forwarded record holds this partition's sensors only.
 */
function place(record: RawRecord, homes: readonly number[], route: Route): Placement {
  const from = headerOf(record, FORWARDED_HEADER);
  if (from === undefined) return homes.some((h) => h === route.partition) ? 'take' : 'forward';
  const elsewhere = homes.find((h) => h !== route.partition);
  if (elsewhere !== undefined)
    return {
      refused: `forwarded to partition ${route.partition}, not its sensor's own (${elsewhere}): kafka.partitions does not match the topic`,
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
