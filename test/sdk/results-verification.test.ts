import type { JobResultsView, JobView } from '@quorate/protocol'
import { createClient, type QuorateClient, ranges } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../helpers/errors.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { primesWasm } from '../helpers/primes.ts'
import { startTamperingProxy, type TamperingProxy } from './tampering-proxy.ts'

const isResults = (path: string) => /^\/v1\/jobs\/[^/]+\/results$/.test(path)
const isJob = (path: string) => /^\/v1\/jobs\/[^/?]+$/.test(path)

describe('the SDK checks results against a coordinator that lies', () => {
  let net: TestNetwork
  let proxy: TamperingProxy
  let client: QuorateClient
  let wasm: Uint8Array
  const inputs = ranges(1, 30_000, 3)

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    proxy = await startTamperingProxy(net.coordinator.httpUrl)
    client = createClient({ coordinatorUrl: proxy.url })
    wasm = await primesWasm()
    // Run the job once, honestly, so every test below reads a finished job.
    await (await net.client.submitJob({ wasm, inputs, redundancy: 3, quorum: 2 })).waitFor({ timeout: 60_000 })
  })
  afterAll(async () => {
    await proxy?.close()
    await net?.stop()
  })

  const submit = () => client.submitJob({ wasm, inputs, redundancy: 3, quorum: 2 })

  it('accepts the real coordinator’s results through an honest proxy', async () => {
    proxy.tamper = undefined
    const shards = await (await submit()).results({ timeout: 60_000 })
    expect(shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    for (const s of shards) expect(new Set(s.majority).size).toBeGreaterThanOrEqual(2)
    const total = shards.reduce((sum, s) => sum + Number(new TextDecoder().decode(s.output)), 0)
    expect(total).toBe(3245) // π(30000) = 3245
  })

  it('verifies a shard decided with a failure outcome (no output, the digest of the failure)', async () => {
    proxy.tamper = undefined
    const job = await client.submitJob({ wasm, inputs: ['2 100', 'not a range'], redundancy: 3, quorum: 2 })
    const [good, bad] = await job.results({ timeout: 60_000 })
    expect(new TextDecoder().decode(good?.output)).toBe('25\n')
    expect(bad).toMatchObject({ index: 1, state: 'accepted' })
    expect(bad?.outcome).not.toBe('ok')
    expect(bad?.output).toBeUndefined()
    expect(bad?.majority.length).toBeGreaterThanOrEqual(2)
  })

  it('detects one altered output and names the shard', async () => {
    proxy.tamper = (path, body) => {
      if (!isResults(path)) return body
      const results = body as JobResultsView
      const shard = results.shards[1]
      if (shard !== undefined) shard.output = Buffer.from('9999\n').toString('base64')
      return results
    }
    const err = await rejection((await submit()).results({ timeout: 60_000 }))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.name).toBe('ResultVerificationError')
    expect(err.details).toMatchObject({ shard: 1, check: 'digest' })
    expect(err.message).toMatch(/^result of job [0-9a-f]{12} shard 1 rejected: the output's sha256 is /)
  })

  it('detects a quorum the coordinator does not have: one provider counted twice', async () => {
    proxy.tamper = (path, body) => {
      if (isResults(path)) {
        const shard = (body as JobResultsView).shards[2]
        if (shard?.majority[0] !== undefined) shard.majority = [shard.majority[0], shard.majority[0]]
      }
      if (isJob(path)) {
        // Keep the view consistent with the lie: only the first majority provider voted for it.
        const shard = (body as JobView).shardList[2]
        const first = shard?.majority?.[0]
        for (const r of shard?.replicas ?? []) if (r.provider !== first) delete r.vote
      }
      return body
    }
    const err = await rejection((await submit()).results({ timeout: 60_000 }))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.details).toMatchObject({ shard: 2, check: 'quorum' })
    expect(err.message).toMatch(
      /shard 2 rejected: the majority names a provider more than once \(2 entries, 1 distinct\)$/,
    )
  })

  it('detects a coordinator that claims the job needed a smaller quorum', async () => {
    proxy.tamper = (path, body) => {
      if (isJob(path)) (body as JobView).quorum = 1
      if (isResults(path)) {
        const shard = (body as JobResultsView).shards[0]
        if (shard !== undefined) shard.majority = shard.majority.slice(0, 1)
      }
      return body
    }
    const err = await rejection((await submit()).results({ timeout: 60_000 }))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.message).toMatch(/rejected: the coordinator reports quorum 1, but the job was submitted with 2$/)
  })
})
