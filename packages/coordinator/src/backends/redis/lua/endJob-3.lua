--[[
  Move a job to a terminal state. Undecided shards end with the given shard
  state and reason (cancel, expiry); for completion there are none left.

  KEYS[1] job hash           {P}:job:<id>
  KEYS[2] deadlines zset     {P}:jobs:deadline
  KEYS[3] all-jobs zset      {P}:jobs:all

  ARGV[1] key prefix {P}   ARGV[2] job state ('completed' | 'partially_failed' | 'failed' | 'cancelled' |
  'expired' | '' to derive it from the counters)   ARGV[3] shard state for undecided shards
  ARGV[4] reason ('' for none)   ARGV[5] now (ms)

  Returns {1, state} when the job moved, {0, state} when it was already terminal, {-1} when unknown.
]]
local prefix, now = ARGV[1], ARGV[5]
local job = redis.call('HMGET', KEYS[1], 'state', 'id', 'createdAt', 'total', 'accepted', 'failed', 'agreedFailures')
local state = job[1]
if not state then return {-1} end
if state ~= 'queued' and state ~= 'running' then return {0, state} end
local id, createdAt, total = job[2], job[3], tonumber(job[4])
local accepted, failed = tonumber(job[5]), tonumber(job[6])
local target = ARGV[2]
local ended = 0
for i = 0, total - 1 do
  local key = prefix .. ':shard:' .. id .. ':' .. i
  local s = redis.call('HGET', key, 'state')
  if s == 'pending' or s == 'dispatched' or s == 'voting' then
    redis.call('HSET', key, 'state', ARGV[3], 'decision',
      cjson.encode({reason = ARGV[4], decidedAt = tonumber(now), majority = {}, minority = {}}))
    redis.call('HDEL', key, 'reason')
    ended = ended + 1
  end
end
if ARGV[3] == 'failed' then failed = failed + ended end
-- Shards accepted on a failing outcome (recordShard counts them) fail the job like failed shards.
local agreedFailures = tonumber(job[7]) or 0
if target == '' then
  if failed + agreedFailures == 0 then target = 'completed'
  elseif accepted - agreedFailures == 0 then target = 'failed'
  else target = 'partially_failed' end
end
redis.call('HSET', KEYS[1], 'state', target, 'finishedAt', now, 'updatedAt', now, 'failed', failed)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'reason', ARGV[4])
elseif target ~= 'completed' then
  local reason = (failed + agreedFailures) .. ' of ' .. total .. ' shards failed'
  if agreedFailures > 0 then
    reason = reason .. ' (' .. agreedFailures .. ' with an agreed failing outcome of the module)'
  end
  redis.call('HSET', KEYS[1], 'reason', reason)
end
redis.call('ZREM', prefix .. ':jobs:state:' .. state, id)
redis.call('ZADD', prefix .. ':jobs:state:' .. target, createdAt, id)
redis.call('ZREM', KEYS[2], id)
-- The retention policy purges finished jobs oldest first (see purgeJob-2).
redis.call('ZADD', prefix .. ':jobs:finished', now, id)
return {1, target}
