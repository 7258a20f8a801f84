--[[
  Store a running shard's replica table, if the caller still holds the shard.

  KEYS[1] shard hash     {P}:shard:<id>:<index>
  KEYS[2] BullMQ lock    the lock key of the batch (BullMQ job) holding the shard; its value is the holder's token
  KEYS[3] job hash       {P}:job:<id>

  ARGV[1] key prefix {P}   ARGV[2] lock token   ARGV[3] run number
  ARGV[4] shard state      ARGV[5] replicas (JSON)   ARGV[6] waiting reason ('' for none)
  ARGV[7] now (ms)

  Returns 1 if stored, 0 if the caller no longer holds the shard or it is decided.
]]
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local shard = redis.call('HMGET', KEYS[1], 'state', 'runs')
local state = shard[1]
if state ~= 'pending' and state ~= 'dispatched' and state ~= 'voting' then return 0 end
if shard[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'replicas', ARGV[5])
if ARGV[6] == '' then
  redis.call('HDEL', KEYS[1], 'reason')
else
  redis.call('HSET', KEYS[1], 'reason', ARGV[6])
end
if ARGV[4] ~= 'pending' and redis.call('HGET', KEYS[3], 'state') == 'queued' then
  local id = redis.call('HGET', KEYS[3], 'id')
  local prefix = ARGV[1]
  local createdAt = redis.call('HGET', KEYS[3], 'createdAt')
  redis.call('HSET', KEYS[3], 'state', 'running', 'updatedAt', ARGV[7])
  redis.call('ZREM', prefix .. ':jobs:state:queued', id)
  redis.call('ZADD', prefix .. ':jobs:state:running', createdAt, id)
end
return 1
