import type { Redis } from 'ioredis';
import { connectRedis, type RedisConnection } from './connection.js';
import type { AccumulatorSnapshot } from '../../core/aggregate.js';
import type { StoredSensor } from '../../core/checkpoint.js';
import type { RollupRecord } from '../../core/outputs.js';
import type { RawMinute } from '../../core/raw-minutes.js';
import { StaleEpochError, VigilError } from '../../core/errors.js';
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

/**
 * The checkpoint step, atomic in Redis (a Lua script runs without interleaving):
 *   1. refuse unless the partition's epoch is still ARGV[1] (fencing: a paused "zombie" owner
 *      can never overwrite the state of the node that took its partition);
 *   2. write the changed sensors' main records, their changed parts (each sensor's parts are a hash
 *      of their own, set, deleted or appended to field by field), the partition state and the next
 *      offset;
 *   3. append the raw readings taken since the last checkpoint to their series' field of their
 *      minute's hash (which expires rawTtl after its last write), and note each minute, with the time
 *      of that write, in the index of minutes kept (dropping what the index holds of expired ones);
 *   4. write the closed rollup minutes (replacing any earlier value of the same minute).
 *
 * KEYS: epoch, meta, sensors, clock, then one parts key per sensor with part changes, then one raw
 *       hash per minute with raw readings, then one rollup key per rollup, then the raw minutes' index.
 * ARGV: epoch, offset, partition state, sensor count, ttl ms, clock set count, clock delete count,
 *       parts key count, raw minute count, raw ttl ms, now, then sensor id/main pairs, clock id/entry
 *       pairs, clock ids to delete, then per parts key: set count, delete count, append count,
 *       name/bytes pairs, names to delete, name/bytes pairs to append; then per raw minute: the minute,
 *       its series count, series/packed readings pairs; then minute/member pairs (one per rollup).
 */
const COMMIT_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return redis.error_reply('STALE_EPOCH ' .. tostring(current))
end
redis.call('HSET', KEYS[2], 'offset', ARGV[2], 'state', ARGV[3], 'epoch', ARGV[1])
local n = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local cs = tonumber(ARGV[6])
local cd = tonumber(ARGV[7])
local pk = tonumber(ARGV[8])
local rawn = tonumber(ARGV[9])
local rawTtl = tonumber(ARGV[10])
local now = tonumber(ARGV[11])
local a = 12
-- HSET / HDEL in chunks: unpack() of a very long list overflows Lua's stack.
local function hset(key, count)
  local args = {}
  for i = 1, count do
    args[#args + 1] = ARGV[a]
    args[#args + 1] = ARGV[a + 1]
    a = a + 2
    if #args >= 2000 then
      redis.call('HSET', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
local function hdel(key, count)
  local ids = {}
  for i = 1, count do
    ids[#ids + 1] = ARGV[a]
    a = a + 1
    if #ids >= 2000 then
      redis.call('HDEL', key, unpack(ids))
      ids = {}
    end
  end
  if #ids > 0 then redis.call('HDEL', key, unpack(ids)) end
end
hset(KEYS[3], n)
hset(KEYS[4], cs)
hdel(KEYS[4], cd)
for k = 5, 4 + pk do
  local ps = tonumber(ARGV[a])
  local pd = tonumber(ARGV[a + 1])
  local pa = tonumber(ARGV[a + 2])
  a = a + 3
  hset(KEYS[k], ps)
  hdel(KEYS[k], pd)
  for i = 1, pa do
    local old = redis.call('HGET', KEYS[k], ARGV[a])
    redis.call('HSET', KEYS[k], ARGV[a], (old or '') .. ARGV[a + 1])
    a = a + 2
  end
end
local index = KEYS[#KEYS]
local k = 5 + pk
for i = 1, rawn do
  local minute = ARGV[a]
  local series = tonumber(ARGV[a + 1])
  a = a + 2
  for j = 1, series do
    local old = redis.call('HGET', KEYS[k], ARGV[a])
    redis.call('HSET', KEYS[k], ARGV[a], (old or '') .. ARGV[a + 1])
    a = a + 2
  end
  redis.call('PEXPIRE', KEYS[k], rawTtl)
  redis.call('ZADD', index, now, minute)
  k = k + 1
end
if rawn > 0 then redis.call('ZREMRANGEBYSCORE', index, '-inf', now - rawTtl) end
while k < #KEYS do
  local minute = ARGV[a]
  redis.call('ZREMRANGEBYSCORE', KEYS[k], minute, minute)
  redis.call('ZADD', KEYS[k], minute, ARGV[a + 1])
  redis.call('PEXPIRE', KEYS[k], ttl)
  k = k + 1
  a = a + 2
end
return 'OK'
`;

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
      args.push(String(r.minute), `${r.minute}:${JSON.stringify(r.acc)}`);
    }
    keys.push(this.rawIndexKey());
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
   * Scans the rollup keys (O(keys): fine for thousands of series; a series index written with the
   * checkpoint would scale further). A key is `vigil:rollup:<sensor>:<metric>`; metric names hold no ':'.
   */
  async series(): Promise<{ sensorId: string; metric: string }[]> {
    const head = `${this.options.keyPrefix}vigil:rollup:`;
    const found: { sensorId: string; metric: string }[] = [];
    try {
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
    } catch (err) {
      throw wrap(err, 'listing the rollup series');
    }
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
