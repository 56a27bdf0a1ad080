import type { Redis } from 'ioredis';
import { VigilError } from '../../core/errors.js';
import { connectRedis, type RedisConnection } from './connection.js';
import type { Outbox, OutboxItem, StandingEntry } from '../../ports/outbox.js';

/**
 * Due times are scored `ms * 1024 + k`: items enqueued in the same millisecond keep their order (k is
 * their place in the call), where equal scores would sort by id. (Epoch ms * 1024 stays below 2^53.)
 */
const SCALE = 1024;

/**
 * KEYS: due, items, done. ARGV: now, forget-before, due at, then id/payload pairs.
 * Adds each id that is neither queued nor remembered as done; forgets done ids older than the horizon.
 */
const ENQUEUE = `
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
local added = 0
local now = tonumber(ARGV[1])
local due = tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], id) == 0 and not redis.call('ZSCORE', KEYS[3], id) then
    redis.call('HSET', KEYS[2], id, cjson.encode({ payload = ARGV[i + 1], attempts = 0, firstAt = now }))
    redis.call('ZADD', KEYS[1], due * ${SCALE} + math.min(added, ${SCALE - 1}), id)
    added = added + 1
  end
end
return added
`;

/** KEYS: due, items. ARGV: now, max, hidden-until (scaled). Returns the claimed items as JSON with their ids. */
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    local item = cjson.decode(raw)
    item.attempts = item.attempts + 1
    redis.call('HSET', KEYS[2], id, cjson.encode(item))
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    item.id = id
    out[#out + 1] = cjson.encode(item)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;

/** KEYS: due, items. ARGV: id, due-at, error. */
const RETRY = `
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
local item = cjson.decode(raw)
item.lastError = ARGV[3]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(item))
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
return 1
`;

/**
 * KEYS: groups, groups offset. ARGV: offset, then key/state pairs. Refused (0) when the stored state
 * covers a later offset of vigil.alerts.
 */
const SAVE_GROUPS = `
local stored = redis.call('GET', KEYS[2])
if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** KEYS: sent. ARGV: key, version. Keeps the higher version. */
const SENT_GROUP = `
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > v then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

/**
 * KEYS: standing, standing ranks. ARGV: key, rank (numbers joined by commas), entry (`1|` or `0|`
 * firing, then the alert), now. Refused (0) when the stored rank is higher (core/notify.ts outranks).
 */
const PUT_STANDING = `
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if stored then
  local a, b = {}, {}
  for n in string.gmatch(ARGV[2], '[^,]+') do a[#a + 1] = tonumber(n) end
  for n in string.gmatch(stored, '[^,]+') do b[#b + 1] = tonumber(n) end
  for i = 1, math.max(#a, #b - 1) do
    local x, y = a[i] or 0, b[i] or 0
    if x ~= y then
      if x < y then return 0 end
      break
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ',' .. ARGV[4])
return 1
`;

/** KEYS: standing, standing ranks. ARGV: forget-before. Drops resolved entries recorded before it. */
const FORGET_STANDING = `
local ranks = redis.call('HGETALL', KEYS[2])
local dropped = 0
for i = 1, #ranks, 2 do
  local at = tonumber(string.match(ranks[i + 1], '([^,]+)$'))
  if at < tonumber(ARGV[1]) and string.sub(redis.call('HGET', KEYS[1], ranks[i]) or '0|', 1, 1) == '0' then
    redis.call('HDEL', KEYS[1], ranks[i])
    redis.call('HDEL', KEYS[2], ranks[i])
    dropped = dropped + 1
  end
end
return dropped
`;

interface OutboxCommands {
  vigilOutboxPutStanding(
    standing: string,
    ranks: string,
    key: string,
    rank: string,
    entry: string,
    now: number,
  ): Promise<number>;
  vigilOutboxForgetStanding(standing: string, ranks: string, before: number): Promise<number>;
  vigilOutboxSaveGroups(groups: string, offset: string, ...argv: string[]): Promise<number>;
  vigilOutboxSentGroup(sent: string, key: string, version: number): Promise<number>;
  vigilOutboxEnqueue(due: string, items: string, done: string, ...argv: (string | number)[]): Promise<number>;
  vigilOutboxClaim(due: string, items: string, now: number, max: number, until: number): Promise<string[]>;
  vigilOutboxRetry(due: string, items: string, id: string, dueAt: number, error: string): Promise<number>;
}

export interface RedisOutboxOptions extends RedisConnection {
  readonly keyPrefix: string;
  /** Delivered ids are remembered this long (a replayed alert within it is not sent again). */
  readonly rememberMs?: number;
}

/**
 * The outbox in Redis, per sink (one hash tag, so each sink's keys share a slot):
 *   <prefix>vigil:outbox:{<sink>}:due     sorted set: id -> when it is due (or hidden until), scaled
 *   <prefix>vigil:outbox:{<sink>}:items   hash: id -> {payload, attempts, firstAt, lastError}
 *   <prefix>vigil:outbox:{<sink>}:done    sorted set: id -> when it was done (remembered for a while)
 *   <prefix>vigil:outbox:{<sink>}:groups  hash: group key -> its state (JSON, core/alert-groups.ts)
 *   <prefix>vigil:outbox:{<sink>}:groups-offset  the vigil.alerts offset that state covers
 *   <prefix>vigil:outbox:{<sink>}:sent    hash: group key -> the highest version sent
 *   <prefix>vigil:outbox:{<sink>}:standing  hash: rule and sensor -> `1|` (firing) or `0|`, then the alert
 *   <prefix>vigil:outbox:{<sink>}:standing-ranks  hash: rule and sensor -> its rank, then when recorded
 * Enqueue, claim and retry are Lua scripts, so concurrent nodes never claim one item twice at once.
 */
export class RedisOutbox implements Outbox {
  private readonly redis: Redis;
  private readonly commands: OutboxCommands;
  private readonly rememberMs: number;

  constructor(private readonly o: RedisOutboxOptions) {
    this.rememberMs = o.rememberMs ?? 86_400_000;
    this.redis = connectRedis(o, { maxRetriesPerRequest: 3 });
    this.redis.defineCommand('vigilOutboxEnqueue', { numberOfKeys: 3, lua: ENQUEUE });
    this.redis.defineCommand('vigilOutboxClaim', { numberOfKeys: 2, lua: CLAIM });
    this.redis.defineCommand('vigilOutboxRetry', { numberOfKeys: 2, lua: RETRY });
    this.redis.defineCommand('vigilOutboxSaveGroups', { numberOfKeys: 2, lua: SAVE_GROUPS });
    this.redis.defineCommand('vigilOutboxSentGroup', { numberOfKeys: 1, lua: SENT_GROUP });
    this.redis.defineCommand('vigilOutboxPutStanding', { numberOfKeys: 2, lua: PUT_STANDING });
    this.redis.defineCommand('vigilOutboxForgetStanding', { numberOfKeys: 2, lua: FORGET_STANDING });
    this.commands = this.redis as unknown as OutboxCommands;
  }

  private keys(sink: string) {
    const base = `${this.o.keyPrefix}vigil:outbox:{${sink}}`;
    return {
      due: `${base}:due`,
      items: `${base}:items`,
      done: `${base}:done`,
      groups: `${base}:groups`,
      groupsOffset: `${base}:groups-offset`,
      sent: `${base}:sent`,
      standing: `${base}:standing`,
      standingRanks: `${base}:standing-ranks`,
    };
  }

  private async run<T>(what: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      throw new VigilError(`outbox: ${what}: ${(err as Error).message}`, {
        code: 'REDIS_UNAVAILABLE',
        retriable: true,
        cause: err,
      });
    }
  }

  enqueue(sink: string, items: readonly { id: string; payload: string }[], now: number): Promise<number> {
    return this.enqueueAt(sink, items, now, now);
  }

  enqueueAt(
    sink: string,
    items: readonly { id: string; payload: string }[],
    now: number,
    dueAt: number,
  ): Promise<number> {
    if (items.length === 0) return Promise.resolve(0);
    const k = this.keys(sink);
    const argv: (string | number)[] = [now, now - this.rememberMs, dueAt];
    for (const i of items) argv.push(i.id, i.payload);
    return this.run('enqueue', () => this.commands.vigilOutboxEnqueue(k.due, k.items, k.done, ...argv));
  }

  async claim(sink: string, now: number, max: number, visibilityMs: number): Promise<OutboxItem[]> {
    const k = this.keys(sink);
    const raw = await this.run('claim', () =>
      this.commands.vigilOutboxClaim(
        k.due,
        k.items,
        now * SCALE + SCALE - 1,
        max,
        (now + visibilityMs) * SCALE,
      ),
    );
    return raw.map((json) => {
      const item = JSON.parse(json) as {
        id: string;
        payload: string;
        attempts: number;
        firstAt: number;
        lastError?: string;
      };
      return {
        id: item.id,
        payload: item.payload,
        attempts: item.attempts,
        firstAt: item.firstAt,
        ...(item.lastError === undefined ? {} : { lastError: item.lastError }),
      };
    });
  }

  async ack(sink: string, id: string, now: number): Promise<void> {
    const k = this.keys(sink);
    await this.run('ack', () =>
      this.redis.multi().zrem(k.due, id).hdel(k.items, id).zadd(k.done, now, id).exec(),
    );
  }

  async retry(sink: string, id: string, dueAt: number, error: string): Promise<void> {
    const k = this.keys(sink);
    await this.run('retry', () => this.commands.vigilOutboxRetry(k.due, k.items, id, dueAt * SCALE, error));
  }

  depth(sink: string): Promise<number> {
    return this.run('depth', () => this.redis.hlen(this.keys(sink).items));
  }

  async saveGroups(sink: string, offset: string, groups: ReadonlyMap<string, string>): Promise<boolean> {
    const k = this.keys(sink);
    const argv: string[] = [offset];
    for (const [key, state] of groups) argv.push(key, state);
    const saved = await this.run('saving groups', () =>
      this.commands.vigilOutboxSaveGroups(k.groups, k.groupsOffset, ...argv),
    );
    return saved === 1;
  }

  async loadGroups(sink: string): Promise<{ offset: string | undefined; groups: Map<string, string> }> {
    const k = this.keys(sink);
    const [offset, groups] = await this.run('loading groups', () =>
      Promise.all([this.redis.get(k.groupsOffset), this.redis.hgetall(k.groups)]),
    );
    return { offset: offset ?? undefined, groups: new Map(Object.entries(groups)) };
  }

  async group(sink: string, key: string): Promise<{ state: string | undefined; sent: number }> {
    const k = this.keys(sink);
    const [state, sent] = await this.run('reading a group', () =>
      Promise.all([this.redis.hget(k.groups, key), this.redis.hget(k.sent, key)]),
    );
    return { state: state ?? undefined, sent: Number(sent ?? 0) };
  }

  async sentGroup(sink: string, key: string, version: number): Promise<void> {
    await this.run('recording a group sent', () =>
      this.commands.vigilOutboxSentGroup(this.keys(sink).sent, key, version),
    );
  }

  async putStanding(
    sink: string,
    key: string,
    rank: readonly number[],
    entry: StandingEntry,
    now: number,
  ): Promise<boolean> {
    const k = this.keys(sink);
    const put = await this.run('recording a standing alert', () =>
      this.commands.vigilOutboxPutStanding(
        k.standing,
        k.standingRanks,
        key,
        rank.join(','),
        `${entry.firing ? 1 : 0}|${entry.alert}`,
        now,
      ),
    );
    return put === 1;
  }

  async standing(sink: string, forgetBefore: number): Promise<Map<string, StandingEntry>> {
    const k = this.keys(sink);
    const all = await this.run('reading standing alerts', async () => {
      await this.commands.vigilOutboxForgetStanding(k.standing, k.standingRanks, forgetBefore);
      return this.redis.hgetall(k.standing);
    });
    const out = new Map<string, { alert: string; firing: boolean }>();
    for (const [key, v] of Object.entries(all)) out.set(key, { alert: v.slice(2), firing: v[0] === '1' });
    return out;
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
