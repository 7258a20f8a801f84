import { createPublicKey, verify } from 'node:crypto'
import { controlPayload, parseOwnerAuthorization } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { deriveOwnerKey, generateOwnerKey, ownerKeyFromPem } from '../src/index.ts'

describe('owner keys', () => {
  it('sign a cancel that verifies with the public key the job names, and survive a PEM round trip', () => {
    const key = generateOwnerKey()
    expect(key.publicKey).toMatch(/^ed25519:[0-9a-f]{64}$/)
    const header = key.authorize('cancel', 'job-1', 1_800_000_000_000)
    expect(header.startsWith('QuorateOwner ')).toBe(true)
    const auth = parseOwnerAuthorization(header.slice('QuorateOwner '.length))
    if (typeof auth === 'string') throw new Error(auth)
    expect(auth.timestamp).toBe(1_800_000_000_000)
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(key.publicKey.slice(8), 'hex'),
    ])
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    const payload = Buffer.from(controlPayload('cancel', 'job-1', auth.timestamp, auth.nonce))
    expect(verify(null, payload, publicKey, Buffer.from(auth.signature, 'base64url'))).toBe(true)
    expect(
      verify(
        null,
        Buffer.from(controlPayload('cancel', 'job-2', auth.timestamp, auth.nonce)),
        publicKey,
        Buffer.from(auth.signature, 'base64url'),
      ),
    ).toBe(false)
    expect(ownerKeyFromPem(key.toPem()).publicKey).toBe(key.publicKey)
  })

  it('derives the same key from the same wallet secret, another from another', () => {
    const a = `0x${'11'.repeat(32)}`
    expect(deriveOwnerKey(a).publicKey).toBe(deriveOwnerKey(a.toUpperCase().replace('0X', '0x')).publicKey)
    expect(deriveOwnerKey(a).publicKey).not.toBe(deriveOwnerKey(`0x${'22'.repeat(32)}`).publicKey)
  })

  it('refuses a PEM that is not an Ed25519 private key, naming the option', () => {
    expect(() => ownerKeyFromPem('not a key')).toThrow(/^ownerKey is not a PEM private key/)
  })
})
