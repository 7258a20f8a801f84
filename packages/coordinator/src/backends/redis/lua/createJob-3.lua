--[[
  Create a job and its shards, or report the one that exists (idempotent by job id).

  KEYS[1] job hash           {P}:job:<id>
  KEYS[2] all-jobs zset      {P}:jobs:all        (score: createdAt)
  KEYS[3] deadlines zset     {P}:jobs:deadline   (score: deadline, live jobs only)

  ARGV[1] key prefix {P}     ARGV[2] job id        ARGV[3] createdAt (ms)
  ARGV[4] deadline (ms)      ARGV[5] stored spec (JSON)
  ARGV[6] shards per batch (BullMQ job) this coordinator would queue the job in
  ARGV[7] shard count N, then pairs (input bytes, input sha256 hex) of shards 0.. onwards: all N,
          or the first ones when stageShards-1 wrote the rest beforehand

  Returns: {1, "queued", <shards per batch>} when created, {0, <state>, <shards per batch>} when the
  job already existed. The batch size is the one stored with the job, so a submit retried on a
  coordinator configured otherwise queues the same batches, never overlapping ones.
]]
local existing = redis.call('HMGET', KEYS[1], 'state', 'batchShards')
if existing[1] then
  return {0, existing[1], tonumber(existing[2] or 1)}
end
local prefix, id, createdAt = ARGV[1], ARGV[2], ARGV[3]
local total = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'id', id, 'state', 'queued', 'createdAt', createdAt, 'updatedAt', createdAt,
  'deadline', ARGV[4], 'spec', ARGV[5], 'total', total, 'accepted', 0, 'failed', 0, 'batchShards', ARGV[6])
redis.call('ZADD', KEYS[2], createdAt, id)
redis.call('ZADD', prefix .. ':jobs:state:queued', createdAt, id)
redis.call('ZADD', KEYS[3], ARGV[4], id)
--#include input-size.lua
for i = 0, (#ARGV - 7) / 2 - 1 do
  local input = ARGV[8 + 2 * i]
  local sha = ARGV[9 + 2 * i]
  local bytes, blob = sizeOf(input)
  redis.call('SET', prefix .. ':input:' .. id .. ':' .. i, input)
  redis.call('HSET', prefix .. ':shard:' .. id .. ':' .. i, 'state', 'pending', 'inputSha256', sha,
    'inputBytes', bytes, 'replicas', '[]', 'runs', 0)
  if blob then redis.call('HSET', prefix .. ':shard:' .. id .. ':' .. i, 'inputBlob', 1) end
end
return {1, 'queued', tonumber(ARGV[6])}
