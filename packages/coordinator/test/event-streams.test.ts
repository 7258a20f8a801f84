// Event streams narrowed to the types a client listens to: `?types=` on the coordinator, and the
// SDK's job handle asking only for what its listeners need. A coordinator and two agents in this
// process, over HTTP and libp2p on 127.0.0.1.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createClient, type QuorateClient, readEventStream } from '@quorate/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalNetwork, startLocalNetwork } from './local-network.ts'

const encode = (s: string) => new TextEncoder().encode(s)
let net: LocalNetwork
let url: string
let client: QuorateClient
let wasm: Uint8Array

beforeAll(async () => {
  net = await startLocalNetwork(2)
  url = net.url
  client = net.client
  wasm = new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
}, 120_000)
afterAll(async () => {
  await net?.stop()
})

describe('event streams carry only the types asked for', { timeout: 120_000 }, () => {
  it('narrows the coordinator-wide stream with ?types=', async () => {
    const stream = new AbortController()
    const res = await fetch(`${url}/v1/events?types=shard:accepted,job:done`, { signal: stream.signal })
    expect(res.status).toBe(200)
    const handle = await client.submitJob({ wasm, inputs: [encode('0 100'), encode('100 200')], redundancy: 2 })
    const seen: Array<{ type: string; jobId: string }> = []
    for await (const message of readEventStream(res.body as ReadableStream<Uint8Array>)) {
      const event = JSON.parse(message.data) as { type: string; jobId: string }
      if (event.jobId !== handle.id) continue
      seen.push(event)
      if (event.type === 'job:done') break
    }
    stream.abort()
    // Without the filter the job would also have sent job:queued, shard:dispatched and replica:result.
    expect(seen.map((e) => e.type)).toEqual(['shard:accepted', 'shard:accepted', 'job:done'])
  })

  it('lets a job handle ask for job:done alone while waiting, and for more when iterated', async () => {
    const urls: string[] = []
    const watched = createClient({
      coordinatorUrl: url,
      fetch: (input, init) => {
        urls.push(String(input))
        return fetch(input, init)
      },
    })
    const handle = await watched.submitJob({ wasm, inputs: [encode('0 1000')], redundancy: 2 })
    const view = await handle.waitFor({ timeout: 60_000 })
    expect(view.state).toBe('completed')
    const streams = () => urls.filter((u) => u.includes('/events'))
    expect(streams()).toEqual([`${url}/v1/jobs/${handle.id}/events?types=job:done`])

    const again = watched.job(handle.id)
    const types: string[] = []
    for await (const event of again) types.push(event.type)
    // A finished job's stream still says how it ended.
    expect(types).toEqual(['job:done'])
    expect(streams()[1]).toBe(
      `${url}/v1/jobs/${handle.id}/events?types=job:queued,shard:dispatched,replica:result,shard:escalated,shard:accepted,shard:failed,job:done`,
    )
  })

  it('refuses an unknown event type, naming it', async () => {
    const res = await fetch(`${url}/v1/events?types=shard:accepted,shard:done`)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { code: string; message: string }
    expect(body.code).toBe('BAD_REQUEST')
    expect(body.message).toMatch(/^types: "shard:done" is not an event type \(known: job:queued, /)
  })
})
