import type { JobHandle } from '@quorate/sdk'
import { expect } from 'vitest'
import { primesIn } from './primes.ts'

/**
 * The history check of a primes job after a fault: it completed, every shard is accepted with the
 * answer computed here, and each was counted once (the job's tally equals its shard count, and each
 * shard is backed by one quorum of `quorum` distinct providers).
 */
export async function expectEachShardOnce(job: JobHandle, inputs: string[], quorum = 3): Promise<void> {
  const results = await job.results({ timeout: 180_000 })
  expect(results.map((r) => r.state)).toEqual(inputs.map(() => 'accepted'))
  const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes).trim()
  const wrong = results.filter((r) => decode(r.output) !== String(primesIn(inputs[r.index] as string)))
  expect(wrong).toEqual([])
  const view = await job.status()
  expect(view.state).toBe('completed')
  expect(view.shards.accepted).toBe(inputs.length)
  for (const shard of view.shardList) {
    const majority = shard.replicas.filter((r) => r.vote === 'majority').map((r) => r.provider)
    expect(majority).toHaveLength(quorum)
    expect(new Set(majority).size).toBe(quorum)
  }
}
