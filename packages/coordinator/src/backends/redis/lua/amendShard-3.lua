--[[
  Replace an accepted shard's decision after a re-check (a provider in its
  majority was caught lying), while its job is still running.

  KEYS[1] shard hash     {P}:shard:<id>:<index>
  KEYS[2] job hash       {P}:job:<id>
  KEYS[3] output key     {P}:out:<id>:<index>

  ARGV[1] decided state ('accepted' | 'failed')   ARGV[2] replicas (JSON)   ARGV[3] decision detail (JSON)
  ARGV[4] output bytes ('' for none)   ARGV[5] has output ('1' | '0')   ARGV[6] now (ms)

  Returns 1 if amended, 0 if the job has ended or the shard is not accepted.
]]
local jobState = redis.call('HGET', KEYS[2], 'state')
if jobState ~= 'queued' and jobState ~= 'running' then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'accepted' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'replicas', ARGV[2], 'decision', ARGV[3])
if ARGV[5] == '1' then redis.call('SET', KEYS[3], ARGV[4]) else redis.call('DEL', KEYS[3]) end
if ARGV[1] == 'failed' then
  redis.call('HINCRBY', KEYS[2], 'accepted', -1)
  redis.call('HINCRBY', KEYS[2], 'failed', 1)
end
redis.call('HSET', KEYS[2], 'updatedAt', ARGV[6])
return 1
