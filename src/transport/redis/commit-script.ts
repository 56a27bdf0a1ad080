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
 *   4. write the closed rollup minutes (replacing any earlier value of the same minute), and note
 *      each series, with the time, in the index of series with rollups (dropping those whose
 *      rollups have all expired).
 *
 * KEYS: epoch, meta, sensors, clock, then one parts key per sensor with part changes, then one raw
 *       hash per minute with raw readings, then one rollup key per rollup, then the series index and
 *       the raw minutes' index.
 * ARGV: epoch, offset, partition state, sensor count, ttl ms, clock set count, clock delete count,
 *       parts key count, raw minute count, raw ttl ms, now, then sensor id/main pairs, clock id/entry
 *       pairs, clock ids to delete, then per parts key: set count, delete count, append count,
 *       name/bytes pairs, names to delete, name/bytes pairs to append; then per raw minute: the minute,
 *       its series count, series/packed readings pairs; then minute/member/series triples (one per
 *       rollup).
 */
export const COMMIT_SCRIPT = `
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
-- (the raw minutes' index is the last key, the series index the one before it)
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
local seriesIndex = KEYS[#KEYS - 1]
local rollups = 0
while k < #KEYS - 1 do
  local minute = ARGV[a]
  redis.call('ZREMRANGEBYSCORE', KEYS[k], minute, minute)
  redis.call('ZADD', KEYS[k], minute, ARGV[a + 1])
  redis.call('PEXPIRE', KEYS[k], ttl)
  redis.call('ZADD', seriesIndex, now, ARGV[a + 2])
  k = k + 1
  a = a + 3
  rollups = rollups + 1
end
if rollups > 0 then redis.call('ZREMRANGEBYSCORE', seriesIndex, '-inf', now - ttl) end
return 'OK'
`;
