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
    const coordinator = fakeCoordinator()
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch: coordinator.fetch,
      wallet: { rpcUrl: 'http://127.0.0.1:9', privateKey: key },
    })
    const handle = await client.submitJob({ wasm, inputs: ['x'] })
    expect(handle.funding).toBeUndefined()
    const posts = coordinator.calls.filter((c) => c.method === 'POST')
    expect(posts).toHaveLength(1)
    expect(posts[0]?.body).not.toHaveProperty('payment')
  })

  it('reads the terms again on a 402, and refuses a coordinator that still publishes none', async () => {
    const coordinator = fakeCoordinator({ refuse: true })
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch: coordinator.fetch,
      wallet: { rpcUrl: 'http://127.0.0.1:9', privateKey: key },
    })
    const err = await client.submitJob({ wasm, inputs: ['x'] }).catch((e: unknown) => e)
    expect(isQuorateError(err) && [err.name, err.code, err.details.problem, err.message]).toEqual([
      'PaymentError',
      'PAYMENT_REQUIRED',
      'terms',
      'the coordinator asks for payment but publishes no payment terms: pay up',
    ])
    expect(coordinator.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /v1/info',
      'POST /v1/jobs',
      'GET /v1/info',
    ])
  })
})

// Odd amounts, so a sum that drops or doubles a term shows.
const TERMS = {
  chainId: 31337,
  token: `0x${'a1'.repeat(20)}`,
  registry: `0x${'b2'.repeat(20)}`,
  escrow: `0x${'c3'.repeat(20)}`,
  coordinator: `0x${'d4'.repeat(20)}`,
  pricePerReplica: '1000000000000000007',
  fee: '300000000000000011',
  minSecondsLeft: 120,
}

describe('published payment terms', () => {
  it('a free coordinator: required false, price 0, and no chain access even with a wallet', async () => {
    const coordinator = fakeCoordinator()
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch: coordinator.fetch,
      // Nothing listens on port 9: a chain access would fail the estimate.
      wallet: { rpcUrl: 'http://127.0.0.1:9', privateKey: key, registryAddress: TERMS.registry },
    })
    const estimate = await client.estimate({ wasm, inputs: ['x', 'y'] })
    expect(estimate.payment).toEqual({
      required: false,
      price: 0n,
      reason: 'the coordinator publishes no payment terms: jobs run free',
    })
  })

  it('a paid coordinator: the quote is computed from its terms, and said to be unchecked without a wallet', async () => {
    const coordinator = fakeCoordinator({ payment: TERMS })
    const client = createClient({ coordinatorUrl: 'http://127.0.0.1:1', fetch: coordinator.fetch })
    const spec = toJobSpecJson({ wasm, inputs: ['1', '2', '3'], redundancy: 3, quorum: 2, maxReplicas: 4 })
    const first = await client.estimatePayment(spec)
    const price = 1_000_000_000_000_000_007n
    const fee = 300_000_000_000_000_011n
    expect(first).toEqual({
      required: true,
      chainId: 31337,
      token: TERMS.token,
      escrow: TERMS.escrow,
      coordinator: TERMS.coordinator,
      verified: false,
      quote: { budget: 12n * price + fee, pricePerReplica: price, fee, expected: 9n * price + fee },
      toFund: 12n * price + fee,
    })
    // The terms are read once per client; nothing was submitted to learn them.
    await client.estimatePayment(spec)
    expect(coordinator.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/info'])
  })

  it('refuses malformed terms, naming every bad field', async () => {
    const coordinator = fakeCoordinator({
      payment: { ...TERMS, escrow: '0x12', pricePerReplica: '-1', fee: 5, chainId: 0 },
    })
    const client = createClient({ coordinatorUrl: 'http://127.0.0.1:1', fetch: coordinator.fetch })
    const err = await client.estimatePayment(toJobSpecJson({ wasm, inputs: ['x'] })).catch((e: unknown) => e)
    expect(isQuorateError(err) && `${err.name} ${err.details.problem}: ${err.message}`).toMatchInlineSnapshot(
      `"PaymentError terms: the coordinator's payment terms are malformed: chainId must be an integer ≥ 1 (got 0); escrow must be a 20-byte hex address (got "0x12"); pricePerReplica must be a decimal string of base units (got "-1"); fee must be a decimal string of base units (got 5)"`,
    )
  })
})

/** A coordinator's HTTP API in a fetch function: `/v1/info` (with `payment` if given), `/v1/providers`, and POST `/v1/jobs`. */
function fakeCoordinator(options: { payment?: Record<string, unknown>; refuse?: boolean } = {}) {
  const calls: Array<{ method: string; path: string; body?: unknown }> = []
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  const fetch = (async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname
    const method = init.method ?? 'GET'
    calls.push({ method, path, ...(init.body === undefined ? {} : { body: JSON.parse(String(init.body)) }) })
    if (path === '/v1/info') {
      return json({
        peerId: '12D3KooWFake',
        multiaddrs: [],
        version: '0.1.0',
        backend: 'embedded',
        ...(options.payment === undefined ? {} : { payment: options.payment }),
      })
    }
    if (path === '/v1/providers') return json({ items: [] })
    if (method === 'POST' && path === '/v1/jobs') {
      if (options.refuse === true) return json({ code: 'PAYMENT_REQUIRED', message: 'pay up' }, 402)
      return json({ id: 'a'.repeat(64), state: 'queued', created: true }, 201)
    }
    return json({ code: 'NOT_FOUND', message: `no route ${method} ${path}` }, 404)
  }) as typeof globalThis.fetch
  return { fetch, calls }
}

describe('JobInput payment', () => {
  it('carries an explicit escrow id into the spec', () => {
    const escrowJobId = `0x${'ab'.repeat(32)}`
    expect(toJobSpecJson({ wasm, inputs: ['x'], payment: { escrowJobId } }).payment).toEqual({ escrowJobId })
  })
})
