import { InvalidOptionError } from '@quorate/protocol'

/**
 * Split the half-open integer range `[from, to)` into `shards` contiguous
 * ranges of near-equal size, each written `"a b"` (start inclusive, end
 * exclusive) — the input format of the primes example. Sizes differ by at
 * most one; when the range is shorter than `shards`, fewer shards come back.
 *
 * @example
 * ```ts
 * import { ranges } from '@quorate/sdk'
 * ranges(0, 10, 3) // ['0 3', '3 6', '6 10']
 * const job = await client.submitJob({ wasm: primes, inputs: ranges(1, 450_000, 9) })
 * ```
 */
export function ranges(from: number, to: number, shards: number): string[] {
  if (!Number.isSafeInteger(from)) throw new InvalidOptionError('from', 'must be a safe integer', from)
  if (!Number.isSafeInteger(to) || to < from)
    throw new InvalidOptionError('to', `must be an integer ≥ from (${from})`, to)
  if (!Number.isInteger(shards) || shards < 1) throw new InvalidOptionError('shards', 'must be an integer ≥ 1', shards)
  const size = to - from
  const count = Math.min(shards, Math.max(size, 1))
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const a = from + Math.floor((size * i) / count)
    const b = from + Math.floor((size * (i + 1)) / count)
    out.push(`${a} ${b}`)
  }
  return out
}
