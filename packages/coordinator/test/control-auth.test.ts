import { generateOwnerKey } from '@quorate/sdk'
import { describe, expect, it } from 'vitest'
import { ControlAuth } from '../src/control-auth.ts'

const job = 'ab'.repeat(32)

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    const e = err as { code: string; message: string }
    return { code: e.code, message: e.message }
  }
  throw new Error('it was authorized')
}

describe('ControlAuth', () => {
  const owner = generateOwnerKey()
  const stranger = generateOwnerKey()
  let now = 1_800_000_000_000
  const auth = new ControlAuth({ operatorToken: 'operator-token-0123456789', now: () => now })

  it("lets the job's owner cancel with a fresh signature, once", () => {
    const header = owner.authorize('cancel', job, now)
    expect(auth.authorize(header, 'cancel', job, owner.publicKey)).toBe('owner')
    expect(refusal(() => auth.authorize(header, 'cancel', job, owner.publicKey))).toEqual({
      code: 'UNAUTHORIZED',
      message: 'this signed request was already used: sign a new one',
    })
  })

  it('refuses no credential (401), another key (403), another job (403) and a stale signature (401)', () => {
    expect(refusal(() => auth.authorize(undefined, 'cancel', job, owner.publicKey))).toEqual({
      code: 'UNAUTHORIZED',
      message: `cancelling job ${job} needs a signature by the job's owner key or the operator token`,
    })
    expect(
      refusal(() => auth.authorize(stranger.authorize('cancel', job, now), 'cancel', job, owner.publicKey)),
    ).toEqual({
      code: 'FORBIDDEN',
      message: `the signature does not verify against the owner key of job ${job}`,
    })
    const other = 'cd'.repeat(32)
    expect(
      refusal(() => auth.authorize(owner.authorize('cancel', other, now), 'cancel', job, owner.publicKey)).code,
    ).toBe('FORBIDDEN')
    const old = owner.authorize('cancel', job, now - 10 * 60_000)
    expect(refusal(() => auth.authorize(old, 'cancel', job, owner.publicKey)).message).toMatch(
      /timestamp is 600 s old; the limit is 300 s/,
    )
    expect(refusal(() => auth.authorize('QuorateOwner ts=1, nonce=zz', 'cancel', job, owner.publicKey)).code).toBe(
      'UNAUTHORIZED',
    )
  })

  it('lets only the operator token cancel a job without an owner, compared whole', () => {
    expect(refusal(() => auth.authorize(owner.authorize('cancel', job, now), 'cancel', job, null))).toEqual({
      code: 'FORBIDDEN',
      message: `cancelling job ${job} needs the operator token: the job names no owner key, so no signature can cancel it`,
    })
    expect(refusal(() => auth.authorize('Bearer operator-token-012345678', 'cancel', job, null))).toEqual({
      code: 'UNAUTHORIZED',
      message: 'the operator token does not match',
    })
    expect(auth.authorize('Bearer operator-token-0123456789', 'cancel', job, null)).toBe('operator')
    expect(auth.authorize('Bearer operator-token-0123456789', 'cancel', job, owner.publicKey)).toBe('operator')
    now += 1
    expect(refusal(() => new ControlAuth().authorize('Bearer x', 'cancel', job, null)).code).toBe('FORBIDDEN')
  })
})
