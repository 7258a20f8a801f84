import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from './helpers/network.ts'

// Each validation case (malformed JSON among them) runs in-process in
// packages/coordinator/test/http.test.ts; this file keeps what
// needs a real network: a coordinator process that refused bad input goes on running jobs.
describe('bad input gets a clear 4xx and the coordinator keeps serving', () => {
  let net: TestNetwork
  let wasmB64: string

  beforeAll(async () => {
    net = await startNetwork({ agents: 3 })
    const path = createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
    wasmB64 = (await readFile(path)).toString('base64')
  })
  afterAll(async () => {
    await net?.stop()
  })

  const post = async (body: string) => {
    const res = await fetch(`${net.coordinator.httpUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    return { status: res.status, body: (await res.json()) as { code: string; message: string } }
  }
  const input = Buffer.from('2 100').toString('base64')

  it('runs on its own embedded backend, whatever QUORATE_REDIS_URL the shell exports', async () => {
    // CI exports QUORATE_REDIS_URL; a test network that inherited it would share state across runs.
    expect((await net.client.info()).backend).toBe('embedded')
  })

  it('refuses malformed JSON, then still runs a good job, and resubmitting it is idempotent', async () => {
    expect((await post('{"module": {"wasm": ')).status).toBe(400)
    const spec = { module: { wasm: wasmB64 }, inputs: [input, Buffer.from('100 200').toString('base64')] }
    const first = await post(JSON.stringify(spec))
    expect(first.status).toBe(201)
    const again = await post(JSON.stringify(spec))
    expect(again.status).toBe(200)
    expect((again.body as unknown as { id: string }).id).toBe((first.body as unknown as { id: string }).id)
    const results = await net.client.job((first.body as unknown as { id: string }).id).results({ timeout: 60_000 })
    expect(results.map((r) => new TextDecoder().decode(r.output).trim())).toEqual(['25', '21'])
  })
})
