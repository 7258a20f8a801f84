-- Shared by the scripts that write shards (createJob-3, stageShards-1), pasted in where they say
-- `--#include input-size.lua` (see scripts.ts). A blob reference is its magic prefix, then JSON:
-- the shard's size is the blob's. Returns the size and whether the input is a reference.
local REF = '\0quorate:blob-ref:v1\n'
local function sizeOf(input)
  if string.sub(input, 1, #REF) == REF then
    return cjson.decode(string.sub(input, #REF + 1)).size, true
  end
  return string.len(input), false
end
