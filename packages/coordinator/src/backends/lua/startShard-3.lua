--[[
  Start a run of a shard this coordinator has just taken from the queue: one
  round trip for what was four reads and a write.

  KEYS[1] job hash       {P}:job:<id>
  KEYS[2] shard hash     {P}:shard:<id>:<index>
  KEYS[3] shard input    {P}:input:<id>:<index>

  ARGV[1] '1' to return the job's spec too (the caller has not cached it), else '0'

  Returns { status, run, deadline, input, spec }:
    status 'run'      the run is counted (shard runs + 1) and may go ahead
    status 'ended'    the job is finished or gone: skip the shard
    status <state>    the shard is already decided ('accepted' | 'failed' | 'cancelled')
    status 'lost'     the shard's input is gone
]]
local job = redis.call('HMGET', KEYS[1], 'state', 'deadline')
local jobState = job[1]
if not jobState or jobState == 'completed' or jobState == 'partially_failed' or jobState == 'failed'
  or jobState == 'cancelled' or jobState == 'expired' then
  return { 'ended' }
end
local shardState = redis.call('HGET', KEYS[2], 'state')
if shardState == 'accepted' or shardState == 'failed' or shardState == 'cancelled' then
  return { shardState }
end
local input = redis.call('GET', KEYS[3])
if not input then return { 'lost' } end
local run = redis.call('HINCRBY', KEYS[2], 'runs', 1)
local spec = ''
if ARGV[1] == '1' then spec = redis.call('HGET', KEYS[1], 'spec') end
return { 'run', run, job[2], input, spec }
