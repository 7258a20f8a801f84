--[[
  Write a run of a new job's shards before the job itself exists (a large job's shards do not fit
  one script call). Harmless if the job is never created: nothing reads shard keys of a job that
  has no job hash. Skipped once the job exists, so a retried submit never rewrites live shards.

  KEYS[1] job hash           {P}:job:<id>

  ARGV[1] key prefix {P}     ARGV[2] job id        ARGV[3] index of the first shard given
  ARGV[4..] pairs: input bytes, input sha256 (hex)

  Returns: 1 when written, 0 when the job already exists.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local prefix, id, first = ARGV[1], ARGV[2], tonumber(ARGV[3])
--#include input-size.lua
for i = 0, (#ARGV - 3) / 2 - 1 do
  local input = ARGV[4 + 2 * i]
  local index = first + i
  local bytes, blob = sizeOf(input)
  redis.call('SET', prefix .. ':input:' .. id .. ':' .. index, input)
  redis.call('HSET', prefix .. ':shard:' .. id .. ':' .. index, 'state', 'pending', 'inputSha256', ARGV[5 + 2 * i],
    'inputBytes', bytes, 'replicas', '[]', 'runs', 0)
  if blob then redis.call('HSET', prefix .. ':shard:' .. id .. ':' .. index, 'inputBlob', 1) end
end
return 1
