// Results of a job read in pages: the SDK's resultsIterator verifies each page against the job
// view's page of shards, through a proxy that can lie, over a real network of agents.
import type { JobResultsPage } from '@quorate/protocol'
import { createClient, type QuorateClient, type ShardResult } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../helpers/errors.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { startTamperingProxy, type TamperingProxy } from './tampering-proxy.ts'

const isResultsPage = (path: string) => /^\/v1\/jobs\/[^/]+\/results\?/.test(path)

describe('the SDK reads a multi-page job in verified pages', () => {
  let net: TestNetwork
  let proxy: TamperingProxy
  let client: QuorateClient
  let wasm: Uint8Array
  // 25 shards, read 10 at a time: three pages, the last one short.
  const inputs = Array.from({ length: 25 }, (_, i) => `${i * 400} ${(i + 1) * 400}`)

  beforeAll(async () => {
    net = await startNetwork({ agents: 2 })
    proxy = await startTamperingProxy(net.coordinator.httpUrl)
    client = createClient({ coordinatorUrl: proxy.url })
    wasm = await primesWasm()
    await (await net.client.submitJob({ wasm, inputs, redundancy: 2 })).waitFor({ timeout: 120_000 })
  }, 180_000)
  afterAll(async () => {
    await proxy?.close()
    await net?.stop()
  })

  const submit = () => client.submitJob({ wasm, inputs, redundancy: 2 })

  it('yields every shard once, in order, with outputs that are the right answers', async () => {
    proxy.tamper = undefined
    const requested: string[] = []
    proxy.tamper = (path, body) => {
      requested.push(path)
      return body
    }
    const seen: ShardResult[] = []
    for await (const shard of (await submit()).resultsIterator({ pageSize: 10, timeout: 60_000 })) seen.push(shard)
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
    proxy.tamper = (path, body) => {
      if (!isResultsPage(path)) return body
      const page = body as JobResultsPage
      const shard = page.shards.find((s) => s.index === 13)
      if (shard !== undefined) shard.output = Buffer.from('9999\n').toString('base64')
      return page
    }
    const seen: number[] = []
    const err = await rejection(
      (async () => {
        for await (const shard of (await submit()).resultsIterator({ pageSize: 10, timeout: 60_000 }))
          seen.push(shard.index)
      })(),
    )
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.details).toMatchObject({ shard: 13, check: 'digest' })
    // The first page was whole and verified; nothing of the second was yielded.
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('refuses a page with a shard left out, or one that claims the job ends early', async () => {
    proxy.tamper = (path, body) => {
      if (!isResultsPage(path)) return body
      const page = body as JobResultsPage
      page.shards = page.shards.filter((s) => s.index !== 4)
      return page
    }
    const dropped = await rejection(
      (async () => {
        for await (const _ of (await submit()).resultsIterator({ pageSize: 10 })) {
        }
      })(),
    )
    expect(dropped.details).toMatchObject({ check: 'shards' })
    expect(dropped.message).toMatch(/the page of shards 0 to 9 holds 9 results and 10 shards of the view/)
    proxy.tamper = (path, body) => {
      if (!isResultsPage(path)) return body
      return { ...(body as JobResultsPage), nextCursor: null }
    }
    const early = await rejection(
      (async () => {
        for await (const _ of (await submit()).resultsIterator({ pageSize: 10 })) {
        }
      })(),
    )
    expect(early.details).toMatchObject({ check: 'shards' })
    expect(early.message).toMatch(/ends at null in the results and 9 in the view, of 25 shards/)
  })

  it('refuses a page size out of bounds, naming the option', async () => {
    proxy.tamper = undefined
    const err = await rejection((await submit()).resultsIterator({ pageSize: 1001 }).next())
    expect(err.message).toBe('pageSize must be an integer from 1 to 1000 (got 1001)')
  })
})
