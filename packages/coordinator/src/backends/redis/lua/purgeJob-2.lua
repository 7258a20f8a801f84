--[[
  Purge one step of a finished job (the retention policy): delete up to ARGV[3] of its shards
  (hash, input, output) from where the last step stopped; once none are left, the job hash and
  its index entries, leaving a tombstone that expires after ARGV[5] ms. A job not in a terminal
  state is left alone. Bounded work per call, so a huge job is purged in many short steps.

  KEYS[1] job hash            {P}:job:<id>
  KEYS[2] finished-jobs zset  {P}:jobs:finished   (score: finishedAt)

  ARGV[1] key prefix {P}   ARGV[2] job id   ARGV[3] most shards to delete now
  ARGV[4] now (ms)         ARGV[5] how long the tombstone is kept (ms)

  Returns 1 when the job is gone (or was already), 0 when shards are left, -1 when not terminal.
]]
local prefix, id = ARGV[1], ARGV[2]
local job = redis.call('HMGET', KEYS[1], 'state', 'total', 'purgedTo')
local state = job[1]
if not state then
  redis.call('ZREM', KEYS[2], id)
  return 1
end
if state == 'queued' or state == 'running' then return -1 end
local total = tonumber(job[2]) or 0
local from = tonumber(job[3]) or 0
local to = math.min(total, from + tonumber(ARGV[3]))
for i = from, to - 1 do
  local suffix = id .. ':' .. i
  redis.call('DEL', prefix .. ':shard:' .. suffix, prefix .. ':input:' .. suffix, prefix .. ':out:' .. suffix)
end
if to < total then
  redis.call('HSET', KEYS[1], 'purgedTo', to)
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', prefix .. ':jobs:all', id)
redis.call('ZREM', prefix .. ':jobs:state:' .. state, id)
redis.call('ZREM', prefix .. ':jobs:deadline', id)
redis.call('SET', prefix .. ':purged:' .. id, ARGV[4], 'PX', ARGV[5])
return 1
