--[[
  Keep the replica table of a shard run whose job was cancelled under it: the
  executor's last table, with the replicas that were in flight cancelled and a
  finish time. Only the run that holds the shard, and only once the job's end
  has marked the shard cancelled.

  KEYS[1] shard hash     {P}:shard:<id>:<index>
  KEYS[2] BullMQ lock    the lock key of the batch (BullMQ job) holding the shard

  ARGV[1] lock token   ARGV[2] run number   ARGV[3] replicas (JSON)

  Returns 1 if stored, 0 otherwise.
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local shard = redis.call('HMGET', KEYS[1], 'state', 'runs')
if shard[1] ~= 'cancelled' or shard[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'replicas', ARGV[3])
return 1
