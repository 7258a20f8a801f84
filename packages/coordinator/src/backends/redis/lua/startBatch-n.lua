--[[
  Start a run of each shard of a batch this coordinator has just taken from
  the queue, in one round trip. A batch is one BullMQ job carrying
  consecutive shards of one Quorate job.

  KEYS[1]            job hash       {P}:job:<id>
  KEYS[2k], KEYS[2k+1] for each shard k = 1..n of the batch:
                     shard hash     {P}:shard:<id>:<index>
                     shard input    {P}:input:<id>:<index>

  ARGV[1] '1' to return the job's spec too (the caller has not cached it), else '0'

  Returns { 'ended' } when the job is finished or gone (skip the whole batch), else
  { 'run', deadline, spec, status1, run1, input1, status2, run2, input2, ... } where per shard:
    status 'run'      the run is counted (shard runs + 1) and may go ahead with input
    status <state>    the shard is already decided ('accepted' | 'failed' | 'cancelled')
    status 'lost'     the shard's input is gone
]]
local job = redis.call('HMGET', KEYS[1], 'state', 'deadline')
local jobState = job[1]
if not jobState or jobState == 'completed' or jobState == 'partially_failed' or jobState == 'failed'
  or jobState == 'cancelled' or jobState == 'expired' then
  return { 'ended' }
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
