--[[
  Record a shard's decision, exactly once, by the run that holds it.

  KEYS[1] shard hash     {P}:shard:<id>:<index>
  KEYS[2] BullMQ lock    the lock key of the batch (BullMQ job) holding the shard
  KEYS[3] job hash       {P}:job:<id>
  KEYS[4] output key     {P}:out:<id>:<index>

  ARGV[1] lock token   ARGV[2] run number   ARGV[3] decided state ('accepted' | 'failed')
  ARGV[4] replicas (JSON)   ARGV[5] decision detail (JSON)   ARGV[6] output bytes ('' for none)
  ARGV[7] has output ('1' | '0')   ARGV[8] now (ms)

  Returns 1 if recorded, 0 if fenced off (lock lost, a later run holds it, or already decided).
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local shard = redis.call('HMGET', KEYS[1], 'state', 'runs')
local state = shard[1]
if state ~= 'pending' and state ~= 'dispatched' and state ~= 'voting' then return 0 end
if shard[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'replicas', ARGV[4], 'decision', ARGV[5])
redis.call('HDEL', KEYS[1], 'reason')
if ARGV[7] == '1' then redis.call('SET', KEYS[4], ARGV[6]) end
if ARGV[3] == 'accepted' then
  redis.call('HINCRBY', KEYS[3], 'accepted', 1)
  -- Agreed on a failing outcome (non-zero exit, trap, ...): accepted, but the job counts it as failed.
  local outcome = cjson.decode(ARGV[5]).outcome
  if outcome ~= nil and outcome ~= 'ok' then redis.call('HINCRBY', KEYS[3], 'agreedFailures', 1) end
else
  redis.call('HINCRBY', KEYS[3], 'failed', 1)
end
redis.call('HSET', KEYS[3], 'updatedAt', ARGV[8])
return 1
