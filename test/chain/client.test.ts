// The chain client under concurrency and a flaky RPC: one nonce queue per
// signer, retries that never send twice, readable errors.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  createChainClient,
  destroyChainClient,
  fundJob,
  getTokenBalance,
  mintTestToken,
  stake,
  withAccount,
} from '@quorate/chain'
import { freePort } from '@quorate/chain/dev'
import { ErrorCode } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainError, setupChain, specHashOf, type TestChain, TOKEN } from './setup.ts'

let chain: TestChain

beforeAll(async () => {
  chain = await setupChain()
})
afterAll(async () => {
  await chain?.stop()
})

interface Proxy {
  url: string
  /** Requests per JSON-RPC method seen. */
  seen: Map<string, number>
  close(): Promise<void>
}

/**
 * A JSON-RPC proxy in front of anvil that misbehaves: `drop` forwards the
 * first N matching requests and then cuts the connection instead of
 * answering (the node got it, the client never hears back); `fail` answers
 * the first N matching requests with HTTP 503 without forwarding.
 */
async function flakyProxy(target: string, rule: { method: string; drop?: number; fail?: number }): Promise<Proxy> {
  const seen = new Map<string, number>()
  let dropped = 0
  let failed = 0
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    const payload = JSON.parse(body) as { method: string } | { method: string }[]
    const methods = (Array.isArray(payload) ? payload : [payload]).map((p) => p.method)
    for (const m of methods) seen.set(m, (seen.get(m) ?? 0) + 1)
    const matches = methods.includes(rule.method)
    if (matches && failed < (rule.fail ?? 0)) {
      failed++
      res.writeHead(503).end('unavailable')
      return
    }
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const text = await upstream.text()
    if (matches && dropped < (rule.drop ?? 0)) {
      dropped++
      req.socket.destroy()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(text)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('nonce queue', () => {
  it('sends 20 transactions from one signer at once, each mined once, in nonce order', async () => {
    const deployer = chain.as(chain.deployer)
    const start = await chain.reader.provider.getTransactionCount(chain.deployer.address, 'latest')
    const recipient = chain.others[1]!.address
    const before = await getTokenBalance(chain.reader, recipient)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => mintTestToken(deployer, { to: recipient, amount: BigInt(i + 1) })),
    )
    expect(new Set(results.map((r) => r.hash)).size).toBe(20)
    const nonces = await Promise.all(
      results.map(async (r) => (await chain.reader.provider.getTransaction(r.hash))!.nonce),
    )
    expect(nonces).toEqual(Array.from({ length: 20 }, (_, i) => start + i))
    expect(await getTokenBalance(chain.reader, recipient)).toBe(before + 210n)
  })

  it('two clients derived for the same key share one queue', async () => {
    const a = withAccount(chain.reader, chain.providers[2]!.privateKey)
    const b = withAccount(chain.reader, chain.providers[2]!.privateKey)
    expect(a.account!.sender).toBe(b.account!.sender)
    const results = await Promise.all([stake(a, { amount: 1n }), stake(b, { amount: 2n }), stake(a, { amount: 3n })])
    expect(results.every((r) => r.receipt.status === 1)).toBe(true)
  })

  it('recovers when another process used the next nonce', async () => {
    // A second, independent client for the same key: its sender has its own nonce cache.
    const separate = await createChainClient({
      rpcUrl: chain.anvil.rpcUrl,
      addresses: chain.addresses,
      account: chain.deployer.privateKey,
      pollingIntervalMs: 20,
    })
    try {
      const shared = chain.as(chain.deployer)
      await mintTestToken(shared, { to: chain.others[1]!.address, amount: 1n }) // primes the shared cache
      await mintTestToken(separate, { to: chain.others[1]!.address, amount: 1n }) // takes the nonce it expects
      const r = await mintTestToken(shared, { to: chain.others[1]!.address, amount: 1n })
      expect(r.receipt.status).toBe(1)
    } finally {
      destroyChainClient(separate)
    }
  })
})

describe('transient RPC failures', () => {
  it('a broadcast whose answer is lost is re-sent byte for byte and mined once', async () => {
    const proxy = await flakyProxy(chain.anvil.rpcUrl, { method: 'eth_sendRawTransaction', drop: 1 })
    const client = await createChainClient({
      rpcUrl: proxy.url,
      addresses: chain.addresses,
      account: chain.deployer.privateKey,
      pollingIntervalMs: 20,
      retryDelayMs: 20,
    })
    try {
      const recipient = chain.others[2]!.address
      const before = await getTokenBalance(chain.reader, recipient)
      const nonceBefore = await chain.reader.provider.getTransactionCount(chain.deployer.address, 'latest')
      const r = await mintTestToken(client, { to: recipient, amount: 5n })
      expect(r.receipt.status).toBe(1)
      expect(proxy.seen.get('eth_sendRawTransaction')).toBe(2) // the lost one and its re-send
      expect(await chain.reader.provider.getTransactionCount(chain.deployer.address, 'latest')).toBe(nonceBefore + 1)
      expect(await getTokenBalance(chain.reader, recipient)).toBe(before + 5n)
    } finally {
      destroyChainClient(client)
      await proxy.close()
    }
  })

  it('reads and simulations ride out 503s', async () => {
    const proxy = await flakyProxy(chain.anvil.rpcUrl, { method: 'eth_call', fail: 2 })
    const client = await createChainClient({ rpcUrl: proxy.url, addresses: chain.addresses, retryDelayMs: 10 })
    try {
      expect(await getTokenBalance(client, chain.submitter.address)).toBeGreaterThan(0n)
      expect(proxy.seen.get('eth_call')).toBe(3)
    } finally {
      destroyChainClient(client)
      await proxy.close()
    }
  })

  it('an endpoint that stays down ends in RPC_UNAVAILABLE, not a hang', async () => {
    const port = await freePort()
    await expect(
      createChainClient({
        rpcUrl: `http://127.0.0.1:${port}`,
        addresses: chain.addresses,
        rpcAttempts: 2,
        retryDelayMs: 10,
      }),
    ).rejects.toThrow()
    const proxy = await flakyProxy(chain.anvil.rpcUrl, { method: 'eth_call', fail: 1_000 })
    const client = await createChainClient({
      rpcUrl: proxy.url,
      addresses: chain.addresses,
      rpcAttempts: 3,
      retryDelayMs: 10,
    })
    try {
      const err = await chainError(() => getTokenBalance(client, chain.submitter.address))
      expect(err.reason).toBe('RPC_UNAVAILABLE')
      expect(proxy.seen.get('eth_call')).toBe(3)
    } finally {
      destroyChainClient(client)
      await proxy.close()
    }
  })
})

describe('readable errors', () => {
  it('names the problem, the action and the reason', async () => {
    const submitter = chain.as(chain.submitter)
    const deadline = (await chain.now()) + 600n
    const notCoordinator = await chainError(() =>
      fundJob(submitter, {
        specHash: specHashOf(7),
        coordinator: chain.others[0]!.address,
        budget: TOKEN,
        deadline,
        quorum: 2,
      }),
    )
    expect(notCoordinator.name).toBe('FundJobError')
    // The caller can fix it (name a registered coordinator): the CLI exits 2 for it.
    expect(notCoordinator.code).toBe(ErrorCode.CHAIN_REFUSED)
    expect(notCoordinator.reason).toBe('CoordinatorNotRegistered')
    expect(notCoordinator.message).toMatchInlineSnapshot(
      `"fundJob failed: 0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f is not a registered coordinator"`,
    )

    const poor = chain.as(chain.others[3]!)
    const balance = await getTokenBalance(chain.reader, chain.others[3]!.address)
    const broke = await chainError(() =>
      fundJob(poor, {
        specHash: specHashOf(8),
        coordinator: chain.coordinator.address,
        budget: balance + 1n,
        deadline,
        quorum: 2,
      }),
    )
    expect(broke.reason).toBe('ERC20InsufficientBalance')
    expect(broke.message).toMatch(
      /^fundJob failed: 0x[0-9a-fA-F]{40} holds 10000\.0 tokens, needs 10000\.000000000000000001 tokens$/,
    )

    const tooLong = await chainError(() =>
      fundJob(submitter, {
        specHash: specHashOf(9),
        coordinator: chain.coordinator.address,
        budget: TOKEN,
        deadline: deadline + 10n * 86_400n,
        quorum: 2,
      }),
    )
    expect(tooLong.message).toMatchInlineSnapshot(
      `"fundJob failed: invalid deadline: it must be in the future and no further than the escrow’s maxJobDuration"`,
    )
    const badInput = await chainError(() =>
      fundJob(submitter, {
        specHash: 'nope',
        coordinator: chain.coordinator.address,
        budget: TOKEN,
        deadline,
        quorum: 2,
      }),
    )
    expect(badInput.reason).toBe('INVALID_REQUEST')
    expect(badInput.message).toMatchInlineSnapshot(`"fundJob failed: specHash must be 32 bytes of hex (got nope)"`)
  })
})
