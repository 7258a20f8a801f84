import { describe, expect, it } from 'vitest'
import { createClient, isQuorateError } from '../src/index.ts'

const registryAddress = `0x${'12'.repeat(20)}`

function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (isQuorateError(err)) return err
    throw err
  }
  throw new Error('expected an error')
}

describe('createClient chain settings', () => {
  it('checks signatures only when given a chain', () => {
    expect(createClient({ coordinatorUrl: 'http://127.0.0.1:1' }).verifiesSignatures).toBe(false)
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:1',
      chain: { rpcUrl: 'http://127.0.0.1:2', registryAddress },
    })
    expect(client.verifiesSignatures).toBe(true)
    client.close()
  })

  it('names the bad option', () => {
    const bad = (chain: { rpcUrl: string; registryAddress: string; escrowAddress?: string }) =>
      thrown(() => createClient({ coordinatorUrl: 'http://127.0.0.1:1', chain }))
    expect(bad({ rpcUrl: 'localhost:8545', registryAddress }).message).toMatchInlineSnapshot(
      `"chain.rpcUrl must be an http(s) or ws(s) URL (got "localhost:8545")"`,
    )
    expect(bad({ rpcUrl: 'http://127.0.0.1:2', registryAddress: '0x12' }).message).toMatchInlineSnapshot(
      `"chain.registryAddress must be a 20-byte hex address (got "0x12")"`,
    )
    expect(bad({ rpcUrl: 'http://127.0.0.1:2', registryAddress, escrowAddress: 'escrow' }).code).toBe('INVALID_OPTION')
  })

  it('refuses to verify signatures without a chain', async () => {
    const client = createClient({ coordinatorUrl: 'http://127.0.0.1:1' })
    const err = await client.verifySignatures({ job: {} as never, shards: [] }).catch((e: unknown) => e)
    expect(isQuorateError(err) && err.message).toBe('chain is needed to check signatures')
  })
})
