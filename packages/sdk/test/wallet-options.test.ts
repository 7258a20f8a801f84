import { describe, expect, it } from 'vitest'
import { createClient, isQuorateError, toJobSpecJson } from '../src/index.ts'

const key = `0x${'11'.repeat(32)}`
const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

function message(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (isQuorateError(err)) return `${err.code}: ${err.message}`
    throw err
  }
  throw new Error('expected an error')
}

describe('createClient wallet option', () => {
  const make = (wallet: Record<string, unknown>) => () =>
    createClient({ coordinatorUrl: 'http://127.0.0.1:1', wallet: wallet as never })

  it('names the bad wallet setting', () => {
    expect(message(make({ rpcUrl: 'localhost:8545', privateKey: key }))).toMatchInlineSnapshot(
      `"INVALID_OPTION: wallet.rpcUrl must be an http(s) or ws(s) URL (got "localhost:8545")"`,
    )
    expect(message(make({ rpcUrl: 'http://127.0.0.1:2' }))).toMatchInlineSnapshot(
      `"INVALID_OPTION: wallet needs exactly one of privateKey (hex) and signer (an ethers wallet)"`,
    )
    expect(message(make({ rpcUrl: 'http://127.0.0.1:2', privateKey: '0x12' }))).toMatchInlineSnapshot(
      `"INVALID_OPTION: wallet.privateKey must be 32 bytes of hex (got "(hidden)")"`,
    )
    expect(
      message(make({ rpcUrl: 'http://127.0.0.1:2', privateKey: key, registryAddress: '0x1' })),
    ).toMatchInlineSnapshot(`"INVALID_OPTION: wallet.registryAddress must be a 20-byte hex address (got "0x1")"`)
    expect(message(make({ rpcUrl: 'http://127.0.0.1:2', privateKey: key, maxBudget: 0n }))).toContain(
      'wallet.maxBudget must be a positive bigint',
    )
  })

  it('checks signatures once it knows the contracts: a trusted Registry, or the ones it paid through', () => {
    const bare = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      wallet: { rpcUrl: 'http://127.0.0.1:2', privateKey: key },
    })
    expect(bare.verifiesSignatures).toBe(false)
    const pinned = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      wallet: { rpcUrl: 'http://127.0.0.1:2', privateKey: key, registryAddress: `0x${'12'.repeat(20)}` },
    })
    expect(pinned.verifiesSignatures).toBe(true)
  })

  it('submits a free job without touching the chain (the RPC endpoint is never dialled)', async () => {
    const posts: unknown[] = []
    const fetch = (async (_url: string, init: RequestInit) => {
      posts.push(JSON.parse(String(init.body)))
      return new Response(JSON.stringify({ id: 'a'.repeat(64), state: 'queued', created: true }), { status: 201 })
    }) as typeof globalThis.fetch
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch,
      wallet: { rpcUrl: 'http://127.0.0.1:9', privateKey: key },
    })
    const handle = await client.submitJob({ wasm, inputs: ['x'] })
    expect(handle.funding).toBeUndefined()
    expect(posts).toHaveLength(1)
    expect((posts[0] as { payment?: unknown }).payment).toBeUndefined()
  })

  it('refuses a paid coordinator whose 402 does not say where to pay', async () => {
    const fetch = (async () =>
      new Response(JSON.stringify({ code: 'PAYMENT_REQUIRED', message: 'pay up' }), {
        status: 402,
      })) as typeof globalThis.fetch
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch,
      wallet: { rpcUrl: 'http://127.0.0.1:9', privateKey: key },
    })
    const err = await client.submitJob({ wasm, inputs: ['x'] }).catch((e: unknown) => e)
    expect(isQuorateError(err) && [err.name, err.code, err.details.problem, err.message]).toEqual([
      'PaymentError',
      'PAYMENT_REQUIRED',
      'terms',
      'the coordinator wants payment but does not say where: "pay up"',
    ])
  })
})

describe('JobInput payment', () => {
  it('carries an explicit escrow id into the spec', () => {
    const escrowJobId = `0x${'ab'.repeat(32)}`
    expect(toJobSpecJson({ wasm, inputs: ['x'], payment: { escrowJobId } }).payment).toEqual({ escrowJobId })
  })
})
