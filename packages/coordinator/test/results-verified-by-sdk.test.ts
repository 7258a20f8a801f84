// The SDK checks what this coordinator serves: whole results and results read in pages, verified
// against the job view, through a fetch that can lie (./local-network.ts). A coordinator and three
// agents in this process; moved down from test/sdk, where they ran as four processes behind a proxy.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import {
  isQuorateError,
  type JobResultsPage,
  type JobResultsView,
  type JobView,
  type QuorateError,
} from '@quorate/protocol'
import { createClient, type QuorateClient, ranges, type ShardResult } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalNetwork, startLocalNetwork, tamperingFetch } from './local-network.ts'

const isResults = (path: string) => /^\/v1\/jobs\/[^/]+\/results$/.test(path)
const isResultsPage = (path: string) => /^\/v1\/jobs\/[^/]+\/results\?/.test(path)
const isJob = (path: string) => /^\/v1\/jobs\/[^/?]+$/.test(path)

let net: LocalNetwork
let wasm: Uint8Array
const liar = tamperingFetch()
let client: QuorateClient

beforeAll(async () => {
  net = await startLocalNetwork(3)
  client = createClient({ coordinatorUrl: net.url, fetch: liar.fetch })
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
}, 120_000)
afterAll(async () => {
  await net?.stop()
})

/** The QuorateError a promise rejects with; anything else (or no rejection) fails the test. */
async function rejection(promise: Promise<unknown>): Promise<QuorateError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isQuorateError(err)) throw new Error(`expected a QuorateError, got ${String(err)}`)
  return err
}

/** Primes in [from, to), counted here, to check what the network answers. */
function primesIn(range: string): number {
  const [from, to] = range.split(' ').map(Number) as [number, number]
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true
    for (let d = 2; d * d <= n && prime; d++) prime = n % d !== 0
    if (prime) count++
  }
  return count
}

describe('the SDK checks whole results against a coordinator that lies', { timeout: 120_000 }, () => {
  const inputs = ranges(1, 30_000, 3)
  const submit = () => client.submitJob({ wasm, inputs, redundancy: 3, quorum: 2 })

  beforeAll(async () => {
    // Run the job once, honestly, so every test below reads a finished job.
    await (await net.client.submitJob({ wasm, inputs, redundancy: 3, quorum: 2 })).waitFor({ timeout: 60_000 })
  }, 120_000)

  it('accepts the real coordinator’s results when nothing is altered', async () => {
    liar.tamper = undefined
    const shards = await (await submit()).results({ timeout: 60_000 })
    expect(shards.map((s) => s.state)).toEqual(['accepted', 'accepted', 'accepted'])
    for (const s of shards) expect(new Set(s.majority).size).toBeGreaterThanOrEqual(2)
    const total = shards.reduce((sum, s) => sum + Number(new TextDecoder().decode(s.output)), 0)
    expect(total).toBe(3245) // π(30000) = 3245
  })

  it('verifies a shard decided with a failure outcome (no output, the digest of the failure)', async () => {
    liar.tamper = undefined
    const job = await client.submitJob({ wasm, inputs: ['2 100', 'not a range'], redundancy: 3, quorum: 2 })
    const [good, bad] = await job.results({ timeout: 60_000 })
    expect(new TextDecoder().decode(good?.output)).toBe('25\n')
    expect(bad).toMatchObject({ index: 1, state: 'accepted' })
    expect(bad?.outcome).not.toBe('ok')
    expect(bad?.output).toBeUndefined()
    expect(bad?.majority.length).toBeGreaterThanOrEqual(2)
  })

  it('detects one altered output and names the shard', async () => {
    liar.tamper = (path, body) => {
      if (!isResults(path)) return body
      const shard = (body as JobResultsView).shards[1]
      if (shard !== undefined) shard.output = Buffer.from('9999\n').toString('base64')
      return body
    }
    const err = await rejection((await submit()).results({ timeout: 60_000 }))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.name).toBe('ResultVerificationError')
    expect(err.details).toMatchObject({ shard: 1, check: 'digest' })
    expect(err.message).toMatch(/^result of job [0-9a-f]{12} shard 1 rejected: the output's sha256 is /)
  })

  it('detects a quorum the coordinator does not have: one provider counted twice', async () => {
    liar.tamper = (path, body) => {
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
    liar.tamper = (path, body) => {
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

describe('the SDK reads a multi-page job in verified pages', { timeout: 120_000 }, () => {
  // 25 shards, read 10 at a time: three pages, the last one short.
  const inputs = Array.from({ length: 25 }, (_, i) => `${i * 400} ${(i + 1) * 400}`)
  const submit = () => client.submitJob({ wasm, inputs, redundancy: 2 })
  /** Every shard of a new submission of the job through the iterator, each put in `seen` as it comes. */
  const readAll = async (seen: ShardResult[] = []) => {
    for await (const shard of (await submit()).resultsIterator({ pageSize: 10, timeout: 60_000 })) seen.push(shard)
    return seen
  }

  beforeAll(async () => {
    await (await net.client.submitJob({ wasm, inputs, redundancy: 2 })).waitFor({ timeout: 120_000 })
  }, 180_000)

  it('yields every shard once, in order, with outputs that are the right answers', async () => {
    const requested: string[] = []
    liar.tamper = (path, body) => {
      requested.push(path)
      return body
    }
    const seen = await readAll()
    expect(seen.map((s) => s.index)).toEqual(inputs.map((_, i) => i))
    expect(seen.map((s) => Number(new TextDecoder().decode(s.output)))).toEqual(inputs.map(primesIn))
    // Paged reads only: never the whole view or the whole results.
    const reads = requested.filter((p) => p.includes('cursor='))
    expect(reads.filter(isResultsPage).map((p) => new URL(p, 'http://x').searchParams.get('cursor'))).toEqual([
      '-1',
      '9',
      '19',
    ])
    expect(requested.some((p) => /\/results$/.test(p))).toBe(false)
  })

  it('names the shard of an altered output on the second page', async () => {
    liar.tamper = (path, body) => {
      if (!isResultsPage(path)) return body
      const shard = (body as JobResultsPage).shards.find((s) => s.index === 13)
      if (shard !== undefined) shard.output = Buffer.from('9999\n').toString('base64')
      return body
    }
    const seen: ShardResult[] = []
    const err = await rejection(readAll(seen))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.details).toMatchObject({ shard: 13, check: 'digest' })
    // The first page was whole and verified; nothing of the second was yielded.
    expect(seen.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('refuses a page with a shard left out, or one that claims the job ends early', async () => {
    liar.tamper = (path, body) => {
      if (!isResultsPage(path)) return body
      const page = body as JobResultsPage
      page.shards = page.shards.filter((s) => s.index !== 4)
      return page
    }
    const dropped = await rejection(readAll())
    expect(dropped.details).toMatchObject({ check: 'shards' })
    expect(dropped.message).toMatch(/the page of shards 0 to 9 holds 9 results and 10 shards of the view/)
    liar.tamper = (path, body) => (isResultsPage(path) ? { ...(body as JobResultsPage), nextCursor: null } : body)
    const early = await rejection(readAll())
    expect(early.details).toMatchObject({ check: 'shards' })
    expect(early.message).toMatch(/ends at null in the results and 9 in the view, of 25 shards/)
  })

  it('refuses a page size out of bounds, naming the option', async () => {
    liar.tamper = undefined
    const err = await rejection((await submit()).resultsIterator({ pageSize: 1001 }).next())
    expect(err.message).toBe('pageSize must be an integer from 1 to 1000 (got 1001)')
  })
})
