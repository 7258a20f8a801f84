import {
  aggregatePayouts,
  escrowDomain,
  hashShardResult,
  isTransientRpcError,
  recoverShardResultSigner,
  signShardResult,
  toBytes32,
  verifyShardResult,
} from '@quorate/chain'
import { getAddress, Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'

const key = `0x${'42'.repeat(32)}`
const escrow = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const result = { jobId: 'ab'.repeat(32), shard: 3, digest: 'cd'.repeat(32), nonce: 9n }

describe('shard result signatures', () => {
  it('recover to the operator on the same chain and contract only', async () => {
    const domain = escrowDomain(31337n, escrow)
    const signed = await signShardResult(key, domain, result)
    const operator = new Wallet(key).address
    expect(signed.jobId).toBe(`0x${'ab'.repeat(32)}`)
    expect(recoverShardResultSigner(domain, signed)).toBe(operator)
    expect(verifyShardResult(domain, signed, operator)).toBe(true)
    expect(verifyShardResult(escrowDomain(1n, escrow), signed, operator)).toBe(false)
    expect(verifyShardResult(escrowDomain(31337n, `0x${'00'.repeat(19)}01`), signed, operator)).toBe(false)
    expect(verifyShardResult(domain, { ...signed, nonce: 10n }, operator)).toBe(false)
    expect(verifyShardResult(domain, { ...signed, signature: '0x1234' }, operator)).toBe(false)
  })

  it('hashes deterministically and validates its inputs', () => {
    const domain = escrowDomain(31337, escrow)
    expect(hashShardResult(domain, result)).toBe(hashShardResult(domain, { ...result, jobId: `0x${result.jobId}` }))
    expect(() => hashShardResult(domain, { ...result, digest: 'zz' })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: digest must be 32 bytes of hex (got "zz")]`,
    )
    expect(() => hashShardResult(domain, { ...result, shard: -1 })).toThrow(/shard/)
  })
})

describe('helpers', () => {
  it('aggregates payouts per account, drops zeros, sorts by address', () => {
    const a = '0x00000000000000000000000000000000000000aa'
    const b = '0x00000000000000000000000000000000000000bb'
    expect(
      aggregatePayouts([
        { account: b, amount: 1n },
        { account: a, amount: 2n },
        { account: b, amount: 3n },
        { account: '0x00000000000000000000000000000000000000cc', amount: 0n },
      ]),
    ).toEqual([
      { account: getAddress(a), amount: 2n },
      { account: getAddress(b), amount: 4n },
    ])
  })

  it('normalizes bytes32 hex', () => {
    expect(toBytes32('AB'.repeat(32))).toBe(`0x${'ab'.repeat(32)}`)
    expect(toBytes32('0x12')).toBeUndefined()
  })

  it('classifies transient RPC failures', () => {
    expect(isTransientRpcError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isTransientRpcError(Object.assign(new Error('bad response'), { code: 'SERVER_ERROR' }))).toBe(true)
    expect(isTransientRpcError(Object.assign(new Error('execution reverted'), { code: 'CALL_EXCEPTION' }))).toBe(false)
    expect(isTransientRpcError(new Error('insufficient funds for gas'))).toBe(false)
  })
})
