--[[
  Start a run of each shard of a batch this coordinator has just taken from
  the queue, in one round trip. A batch is one BullMQ job carrying
  consecutive shards of one Quorate job.

  KEYS[1]            job hash       {P}:job:<id>
  KEYS[2k], KEYS[2k+1] for each shard k = 1..n of the batch:
                     shard hash     {P}:shard:<id>:<index>
                     shard input    {P}:input:<id>:<index>

  ARGV[1] '1' to return the job's spec too (the caller has not cached it), else '0'
  ARGV[2] the batch's first shard index   ARGV[3] its shard count

  Returns { 'ended' } when the job is finished or gone (skip the whole batch), { 'stray' } when the
  batch is not one of the job's batches (a submit queues its flow before it knows the job's stored
  batch size; skip it too: the job's own batches cover its shards), else
  { 'run', deadline, spec, status1, run1, input1, status2, run2, input2, ... } where per shard:
    status 'run'      the run is counted (shard runs + 1) and may go ahead with input
    status <state>    the shard is already decided ('accepted' | 'failed' | 'cancelled')
    status 'lost'     the shard's input is gone
]]
local job = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'batchShards', 'total')
local jobState = job[1]
if not jobState or jobState == 'completed' or jobState == 'partially_failed' or jobState == 'failed'
  or jobState == 'cancelled' or jobState == 'expired' then
  return { 'ended' }
end
-- Jobs stored before batching have no batch size: one shard per batch.
local size, total = tonumber(job[3] or 1), tonumber(job[4])
local first, count = tonumber(ARGV[2]), tonumber(ARGV[3])
if first % size ~= 0 or count ~= math.min(size, total - first) then
  return { 'stray' }
end
local spec = ''
if ARGV[1] == '1' then spec = redis.call('HGET', KEYS[1], 'spec') end
local out = { 'run', job[2], spec }
for k = 2, #KEYS, 2 do
  local shardState = redis.call('HGET', KEYS[k], 'state')
  if shardState == 'accepted' or shardState == 'failed' or shardState == 'cancelled' then
    out[#out + 1] = shardState
    out[#out + 1] = 0
    out[#out + 1] = ''
  else
    local input = redis.call('GET', KEYS[k + 1])
    if not input then
      out[#out + 1] = 'lost'
      out[#out + 1] = 0
      out[#out + 1] = ''
    else
      out[#out + 1] = 'run'
      out[#out + 1] = redis.call('HINCRBY', KEYS[k], 'runs', 1)
      out[#out + 1] = input
    end
  end
end
return out
