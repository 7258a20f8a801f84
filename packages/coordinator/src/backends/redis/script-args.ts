import { inputDigestOf } from '@quorate/protocol'
import type { ShardDecision } from '../../backend.ts'
import { decisionDetail } from '../shared/decision.ts'

/** Most shards, and most input bytes, one script call writes: keeps each call's arguments bounded. */
const SHARDS_PER_CALL = 1_000
const BYTES_PER_CALL = 16 * 1024 * 1024

/** `[first, end)` runs of consecutive shards, each within the per-call bounds (at least one shard). */
export function shardRunsOf(inputs: readonly Uint8Array[]): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  let first = 0
  let bytes = 0
  for (let i = 0; i < inputs.length; i++) {
    const size = (inputs[i] as Uint8Array).byteLength
    if (i > first && (i - first >= SHARDS_PER_CALL || bytes + size > BYTES_PER_CALL)) {
      runs.push([first, i])
      first = i
      bytes = 0
    }
    bytes += size
  }
  if (inputs.length > 0) runs.push([first, inputs.length])
  return runs
}

/** Script arguments for shards `[first, end)`: input bytes, then its sha256, per shard. */
export function shardPairs(inputs: readonly Uint8Array[], first: number, end: number): Array<Buffer | string> {
  const pairs: Array<Buffer | string> = []
  for (let i = first; i < end; i++) {
    const input = inputs[i] as Uint8Array
    // A blob reference is stored as it came; the shard names the blob's digest.
    pairs.push(Buffer.from(input.buffer, input.byteOffset, input.byteLength), inputDigestOf(input))
  }
  return pairs
}

/** `[first index, count]` of each batch of `size` consecutive shards out of `shards`. */
export function batchesOf(shards: number, size: number): Array<[number, number]> {
  const batches: Array<[number, number]> = []
  for (let index = 0; index < shards; index += size) batches.push([index, Math.min(size, shards - index)])
  return batches
}

/**
 * The decision arguments `recordShard-4` and `amendShard-3` share: state, replicas (JSON), detail
 * (JSON), output bytes, has output, now.
 */
export function decisionArgs(decision: ShardDecision, now: number, rechecked = false): Array<string | number | Buffer> {
  return [
    decision.state,
    JSON.stringify(decision.replicas),
    JSON.stringify(decisionDetail(decision, now, rechecked)),
    decision.output === undefined ? '' : Buffer.from(decision.output),
    decision.output === undefined ? '0' : '1',
    now,
  ]
}
