import { InvalidOptionError } from '@quorate/protocol'

export interface SplitLinesParameters {
  /** Lines per shard; the last shard may hold fewer. */
  linesPerShard: number
}

/**
 * Split a buffer or text into shards of `linesPerShard` lines each. A line is
 * never split: every shard ends on a line boundary (keeping its `\n`), except
 * the last one when the data does not end with a newline. Empty input gives
 * no shards.
 *
 * @example
 * ```ts
 * import { splitLines } from '@quorate/sdk'
 * const shards = splitLines(await readFile('book.txt'), { linesPerShard: 10_000 })
 * const job = await client.submitJob({ wasm, inputs: shards })
 * ```
 */
export function splitLines(data: Uint8Array | string, parameters: SplitLinesParameters): Uint8Array[] {
  const { linesPerShard } = parameters
  if (!Number.isInteger(linesPerShard) || linesPerShard < 1) {
    throw new InvalidOptionError('linesPerShard', 'must be an integer ≥ 1', linesPerShard)
  }
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const shards: Uint8Array[] = []
  let start = 0
  let lines = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue
    if (++lines === linesPerShard) {
      shards.push(bytes.subarray(start, i + 1))
      start = i + 1
      lines = 0
    }
  }
  if (start < bytes.length) shards.push(bytes.subarray(start))
  return shards
}
