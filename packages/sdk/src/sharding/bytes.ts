import { InvalidOptionError } from '@quorate/protocol'

export interface SplitBytesParameters {
  /** Bytes per shard; the last shard may hold fewer. */
  bytesPerShard: number
}

/**
 * Split a buffer or text into shards of `bytesPerShard` bytes each, cutting
 * anywhere (use {@link splitLines} for text a module reads line by line).
 * Strings are encoded as UTF-8 first. Empty input gives no shards.
 *
 * @example
 * ```ts
 * import { splitBytes } from '@quorate/sdk'
 * const shards = splitBytes(await readFile('data.bin'), { bytesPerShard: 1 << 20 })
 * ```
 */
export function splitBytes(data: Uint8Array | string, parameters: SplitBytesParameters): Uint8Array[] {
  const { bytesPerShard } = parameters
  if (!Number.isInteger(bytesPerShard) || bytesPerShard < 1) {
    throw new InvalidOptionError('bytesPerShard', 'must be an integer ≥ 1', bytesPerShard)
  }
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const shards: Uint8Array[] = []
  for (let start = 0; start < bytes.length; start += bytesPerShard) {
    shards.push(bytes.subarray(start, start + bytesPerShard))
  }
  return shards
}
