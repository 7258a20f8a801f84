import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto'
import {
  type ControlAction,
  controlPayload,
  formatOwnerAuthorization,
  InvalidOptionError,
  OWNER_KEY_PREFIX,
} from '@quorate/protocol'

/**
 * The key that owns the jobs a client submits: Ed25519, from Node's own
 * crypto (no dependency; small, deterministic signatures). It is a separate
 * key from any wallet: owning a job (cancelling it) must not need the key
 * that holds money.
 */
export interface OwnerKey {
  /** What a job spec names as its owner: `ed25519:<64 hex>`. */
  readonly publicKey: string
  /** The `Authorization` header value for `action` on `jobId`, signed now with a fresh nonce. */
  authorize(action: ControlAction, jobId: string, now?: number): string
  /** The private key as PKCS#8 PEM, to keep it (mode 0600) and load it again with {@link ownerKeyFromPem}. */
  toPem(): string
}

/** A new random owner key. */
export function generateOwnerKey(): OwnerKey {
  return ownerKeyOf(generateKeyPairSync('ed25519').privateKey)
}

// The DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/**
 * The owner key derived from another secret (a wallet's private key): the
 * same secret gives the same key anywhere, and the key reveals nothing of it.
 * A client with a wallet owns its jobs by this key, so resubmitting a job
 * from another client with the same wallet finds (and does not pay for) the
 * same job.
 */
export function deriveOwnerKey(secret: string): OwnerKey {
  const seed = createHash('sha256').update(`quorate:owner-key:v1\n${secret.toLowerCase()}`).digest()
  return ownerKeyOf(
    createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  )
}

/** Load an owner key kept as PKCS#8 PEM (what {@link OwnerKey.toPem} writes). */
export function ownerKeyFromPem(pem: string): OwnerKey {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: 'pem' })
  } catch (cause) {
    throw new InvalidOptionError('ownerKey', `is not a PEM private key: ${(cause as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidOptionError('ownerKey', 'must be an Ed25519 key', key.asymmetricKeyType)
  }
  return ownerKeyOf(key)
}

function ownerKeyOf(privateKey: KeyObject): OwnerKey {
  // The raw 32-byte public key is the last 32 bytes of its DER SubjectPublicKeyInfo.
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKey = `${OWNER_KEY_PREFIX}${Buffer.from(der.subarray(der.byteLength - 32)).toString('hex')}`
  return {
    publicKey,
    authorize(action, jobId, now = Date.now()) {
      const nonce = randomBytes(16).toString('hex')
      const payload = Buffer.from(controlPayload(action, jobId, now, nonce))
      const signature = sign(null, payload, privateKey).toString('base64url')
      return formatOwnerAuthorization({ timestamp: now, nonce, signature })
    },
    toPem: () => privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  }
}
