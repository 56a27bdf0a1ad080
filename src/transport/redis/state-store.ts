import type { Redis } from 'ioredis';
import { connectRedis, type RedisConnection } from './connection.js';
import type { AccumulatorSnapshot } from '../../core/aggregate.js';
import type { StoredSensor } from '../../core/checkpoint.js';
import type { RollupRecord } from '../../core/outputs.js';
import type { RawMinute } from '../../core/raw-minutes.js';
import { StaleEpochError, VigilError } from '../../core/errors.js';
import { COMMIT_SCRIPT } from './commit-script.js';
import {
  partitionKey,
  FREQUENCY_TTL_S,
  type CheckpointWrite,
  type EventCounts,
  type Frequencies,
  type PartitionRef,
  type RestoredPartition,
  type StateStore,
} from '../../ports/state-store.js';

/** Arguments per call built by a spread. */
const MAX_ARGS = 1_000;

export interface RedisStoreOptions extends RedisConnection {
  /** Prepended to every key (tests use a unique one per run). */
  readonly keyPrefix: string;
  readonly rollupTtlMs: number;
  /** How long a minute's raw readings are kept after its last one (config rollups.rawTtl; 0: none). */
  readonly rawTtlMs: number;
}

/**
 * Checkpoints in Redis. Keys of one partition share a hash tag ({topic:partition}) so the commit script
 * touches one slot for its checkpoint keys. Rollup keys are per sensor and metric (sorted sets scored
 * by minute), which needs a single Redis (not Redis Cluster) for the atomic step: see the README.
 */
export class RedisStateStore implements StateStore {
  private readonly redis: Redis;

  constructor(private readonly options: RedisStoreOptions) {
    this.redis = connectRedis(options, {
      lazyConnect: false,
      maxRetriesPerRequest: 3,
      enableAutoPipelining: true,
    });
    this.redis.defineCommand('vigilCommit', { lua: COMMIT_SCRIPT });
  }

  private key(p: PartitionRef, what: string): string {
    return `${this.options.keyPrefix}vigil:cp:{${partitionKey(p)}}:${what}`;
  }

  /** A sensor's checkpoint parts (in the partition's hash slot, beside its main record). */
  private partsKey(p: PartitionRef, sensorId: string): string {
    return this.key(p, `parts:${sensorId}`);
  }

  private rollupKey(sensorId: string, metric: string): string {
    return `${this.options.keyPrefix}vigil:rollup:${sensorId}:${metric}`;
  }

  /**
   * A minute's raw readings: a hash, a field per series (`<sensor>\0<metric>`) holding its readings
   * packed (version 1 of core/raw-minutes.ts: the key says `raw1`). One key per minute, not per
   * series and minute: a million sensors add fields, not keys.
   */
  private rawKey(minute: number): string {
    return `${this.options.keyPrefix}vigil:raw1:${minute}`;
  }

  /** The series with rollups (`["<sensor>","<metric>"]`), scored by their last rollup's write. */
  private seriesIndexKey(): string {
    return `${this.options.keyPrefix}vigil:series`;
  }

  /** The minutes with raw readings kept, scored by their last write (trimmed as they expire). */
  private rawIndexKey(): string {
    return `${this.options.keyPrefix}vigil:raw1:minutes`;
  }

  async acquire(p: PartitionRef): Promise<RestoredPartition> {
    try {
      const epoch = await this.redis.incr(this.key(p, 'epoch'));
      const [meta, sensorIds, clock] = await Promise.all([
        this.redis.hgetallBuffer(this.key(p, 'meta')),
        this.redis.hkeys(this.key(p, 'sensors')),
        this.redis.hgetall(this.key(p, 'clock')),
      ]);
      return {
        epoch,
        offset: meta['offset']?.toString(),
        partitionState: meta['state'],
        sensorIds,
        clockEntries: new Map(Object.entries(clock)),
      };
    } catch (err) {
      throw wrap(err, `taking partition ${partitionKey(p)}`);
    }
  }

  async epoch(p: PartitionRef): Promise<number> {
    try {
      return Number((await this.redis.get(this.key(p, 'epoch'))) ?? 0);
    } catch (err) {
      throw wrap(err, `reading the epoch of ${partitionKey(p)}`);
    }
  }

  /** The raw readings of a checkpoint as the script takes them: a key per minute, its series' bytes. */
  private rawArgs(raw: readonly RawMinute[]): { minutes: number; keys: string[]; args: (string | Buffer)[] } {
    const byMinute = new Map<number, RawMinute[]>();
    for (const r of raw) {
      const list = byMinute.get(r.minute);
      if (list === undefined) byMinute.set(r.minute, [r]);
      else list.push(r);
    }
    const keys: string[] = [];
    const args: (string | Buffer)[] = [];
    for (const [minute, list] of byMinute) {
      keys.push(this.rawKey(minute));
      args.push(String(minute), String(list.length));
      for (const r of list) args.push(rawField(r.sensorId, r.metric), r.bytes);
    }
    return { minutes: byMinute.size, keys, args };
  }

  async commit(p: PartitionRef, w: CheckpointWrite): Promise<void> {
    const keys = [this.key(p, 'epoch'), this.key(p, 'meta'), this.key(p, 'sensors'), this.key(p, 'clock')];
    const raw = this.rawArgs(this.options.rawTtlMs > 0 ? (w.raw ?? []) : []);
    const set: string[] = [];
    const del: string[] = [];
    for (const [id, entry] of w.clockEntries ?? []) {
      if (entry === null) del.push(id);
      else set.push(id, entry);
    }
    const partArgs: (string | Buffer)[] = [];
    let partKeys = 0;
    for (const [id, sensor] of w.sensors) {
      if (sensor.parts.size === 0 && sensor.appends.size === 0) continue;
      const written: (string | Buffer)[] = [];
      const removed: string[] = [];
      const appended: (string | Buffer)[] = [];
      for (const [name, bytes] of sensor.parts) {
        if (bytes === null) removed.push(name);
        else written.push(name, bytes);
      }
      for (const [name, bytes] of sensor.appends) appended.push(name, bytes);
      keys.push(this.partsKey(p, id));
      partKeys += 1;
      partArgs.push(String(written.length / 2), String(removed.length), String(appended.length / 2));
      // Loops, not spreads: a spread of a long list into one call overflows the JS stack.
      for (const x of written) partArgs.push(x);
      for (const x of removed) partArgs.push(x);
      for (const x of appended) partArgs.push(x);
    }
    const args: (string | Buffer)[] = [
      String(w.epoch),
      w.offset,
      w.partitionState,
      String(w.sensors.size),
      String(this.options.rollupTtlMs),
      String(set.length / 2),
      String(del.length),
      String(partKeys),
      String(raw.minutes),
      String(this.options.rawTtlMs),
      String(Date.now()),
    ];
    for (const [id, sensor] of w.sensors) args.push(id, sensor.main);
    for (const list of [set, del, partArgs]) for (const x of list) args.push(x);
    for (const x of raw.keys) keys.push(x);
    for (const x of raw.args) args.push(x);
    for (const r of w.rollups) {
      keys.push(this.rollupKey(r.sensorId, r.metric));
      args.push(
        String(r.minute),
        `${r.minute}:${JSON.stringify(r.acc)}`,
        JSON.stringify([r.sensorId, r.metric]),
      );
    }
    keys.push(this.seriesIndexKey(), this.rawIndexKey());
    try {
      // ioredis flattens array arguments: the keys and arguments go as arrays, never spread.
      await (
        this.redis as unknown as {
          vigilCommit(n: number, k: string[], a: (string | Buffer)[]): Promise<string>;
        }
      ).vigilCommit(keys.length, keys, args);
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('STALE_EPOCH')) {
        const current = Number(message.split(' ')[1]);
        throw new StaleEpochError(partitionKey(p), w.epoch, Number.isFinite(current) ? current : undefined);
      }
      throw wrap(err, `checkpointing ${partitionKey(p)}`);
    }
  }

  /**
   * Main records by HMGET in chunks (a spread of many thousands of ids into one call overflows the
   * stack), pipelined with the rest.
   */
  private async mains(p: PartitionRef, ids: readonly string[]): Promise<(Buffer | null)[]> {
    const chunks: Promise<(Buffer | null)[]>[] = [];
    for (let i = 0; i < ids.length; i += MAX_ARGS)
      chunks.push(this.redis.hmgetBuffer(this.key(p, 'sensors'), ...ids.slice(i, i + MAX_ARGS)));
    return (await Promise.all(chunks)).flat();
  }

  /** Main records with HMGET, each sensor's parts with an HGETALL, all in one pipelined round trip. */
  async loadSensors(p: PartitionRef, sensorIds: readonly string[]): Promise<Map<string, StoredSensor>> {
    const out = new Map<string, StoredSensor>();
    if (sensorIds.length === 0) return out;
    try {
      const [mains, ...parts] = await Promise.all([
        this.mains(p, sensorIds),
        ...sensorIds.map((id) => this.redis.hgetallBuffer(this.partsKey(p, id))),
      ]);
      sensorIds.forEach((id, i) => {
        const main = mains[i];
        if (main === null || main === undefined) return;
        const fields = parts[i] ?? {};
        out.set(id, { main, parts: new Map(Object.entries(fields)) });
      });
      return out;
    } catch (err) {
      throw wrap(err, `loading ${sensorIds.length} sensor(s) of ${partitionKey(p)}`);
    }
  }

  private freqKey(kind: 'sensors' | 'types', second: number): string {
    return `${this.options.keyPrefix}vigil:freq:${kind}:${second}`;
  }

  /** One pipeline: HINCRBY per counted sensor and type into that second's hashes, which expire. */
  async addFrequencies(second: number, c: EventCounts): Promise<void> {
    const p = this.redis.pipeline();
    for (const [kind, counts] of [
      ['sensors', c.sensors],
      ['types', c.types],
    ] as const) {
      if (counts.size === 0) continue;
      const key = this.freqKey(kind, second);
      for (const [field, n] of counts) p.hincrby(key, field, n);
      p.expire(key, FREQUENCY_TTL_S);
    }
    try {
      await p.exec();
    } catch (err) {
      throw wrap(err, 'adding event frequencies');
    }
  }

  async frequencies(second: number, windowS: number): Promise<Frequencies> {
    const out: Frequencies = { sensors: {}, types: {} };
    const p = this.redis.pipeline();
    const seconds = Array.from({ length: windowS }, (_, i) => second - windowS + i);
    for (const s of seconds) p.hgetall(this.freqKey('sensors', s)).hgetall(this.freqKey('types', s));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await p.exec();
    } catch (err) {
      throw wrap(err, 'reading event frequencies');
    }
    (replies ?? []).forEach(([err, hash], i) => {
      if (err !== null) return;
      const into = i % 2 === 0 ? out.sensors : out.types;
      for (const [k, v] of Object.entries(hash as Record<string, string>))
        into[k] = (into[k] ?? 0) + Number(v) / windowS;
    });
    return out;
  }

  /**
   * The series index, written with the rollups (O(series), not O(keys): a million sensors' checkpoint
   * keys are not walked). Rollups written before the index existed are found by scanning their keys,
   * once nothing is indexed.
   */
  async series(): Promise<{ sensorId: string; metric: string }[]> {
    try {
      const since = Date.now() - this.options.rollupTtlMs;
      const members = await this.redis.zrangebyscore(this.seriesIndexKey(), since, '+inf');
      if (members.length === 0) return await this.scanSeries();
      return members.map((m) => {
        const [sensorId, metric] = JSON.parse(m) as [string, string];
        return { sensorId, metric };
      });
    } catch (err) {
      throw wrap(err, 'listing the rollup series');
    }
  }

  /** The rollup keys, scanned: `vigil:rollup:<sensor>:<metric>`; metric names hold no ':'. */
  private async scanSeries(): Promise<{ sensorId: string; metric: string }[]> {
    const head = `${this.options.keyPrefix}vigil:rollup:`;
    const found: { sensorId: string; metric: string }[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const rest = key.slice(head.length);
        const colon = rest.lastIndexOf(':');
        if (colon > 0) found.push({ sensorId: rest.slice(0, colon), metric: rest.slice(colon + 1) });
      }
    } while (cursor !== '0');
    return found;
  }

  async rollups(sensorId: string, metric: string, from: number, to: number): Promise<RollupRecord[]> {
    const members = await this.redis.zrangebyscore(this.rollupKey(sensorId, metric), from, `(${to}`);
    return members.map((m) => {
      const colon = m.indexOf(':');
      return {
        sensorId,
        metric,
        minute: Number(m.slice(0, colon)),
        acc: JSON.parse(m.slice(colon + 1)) as AccumulatorSnapshot,
      };
    });
  }

  async rawMinutesKept(from: number, to: number): Promise<number[]> {
    try {
      const minutes = (await this.redis.zrange(this.rawIndexKey(), 0, -1)).map(Number);
      return minutes.filter((m) => m >= from && m < to).sort((a, b) => a - b);
    } catch (err) {
      throw wrap(err, 'reading the index of raw minutes');
    }
  }

  async rawMinutes(
    sensorId: string,
    metric: string,
    minutes: readonly number[],
  ): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    if (minutes.length === 0) return out;
    try {
      const field = rawField(sensorId, metric);
      const found = await Promise.all(minutes.map((m) => this.redis.hgetBuffer(this.rawKey(m), field)));
      found.forEach((bytes, i) => {
        const m = minutes[i];
        if (bytes !== null && m !== undefined) out.set(m, bytes);
      });
      return out;
    } catch (err) {
      throw wrap(err, `reading the raw minutes of ${sensorId} ${metric}`);
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}

const rawField = (sensorId: string, metric: string): string => `${sensorId}\u0000${metric}`;

/** Redis errors: connection trouble is retriable, a refused script or bad reply is not. */
function wrap(err: unknown, what: string): VigilError {
  const e = err as { name?: string; message?: string };
  const retriable = e.name !== 'ReplyError';
  return new VigilError(`${what}: ${e.message ?? String(err)}`, {
    code: retriable ? 'REDIS_UNAVAILABLE' : 'REDIS_ERROR',
    retriable,
    cause: err,
  });
}
