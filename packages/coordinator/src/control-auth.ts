import { createHash, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto'
import {
  CONTROL_SIGNATURE_MAX_SKEW_MS,
  type ControlAction,
  controlPayload,
  ErrorCode,
  InvalidOptionError,
  OWNER_AUTH_SCHEME,
  parseOwnerAuthorization,
  QuorateError,
} from '@quorate/protocol'

export interface ControlAuthOptions {
  /**
   * The operator token: `Authorization: Bearer <token>` may then cancel any
   * job. Without one, no request is an operator's.
   */
  operatorToken?: string
  /** How far a signed request's timestamp may be from this clock. @defaultValue 5 minutes */
  maxSkewMs?: number
  /** @defaultValue Date.now */
  now?: () => number
}

/** Who a control request was authorized as. */
export type ControlPrincipal = 'owner' | 'operator'

// The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** Nonces remembered at most, so a flood of valid owner requests cannot grow memory without end. */
const MAX_REMEMBERED_NONCES = 100_000

/**
 * Decides who may control a job: its owner, by an Ed25519 signature over the
 * action, the job id, a fresh timestamp and a nonce; or the operator, by
 * token. A missing, malformed, stale or replayed credential is a 401; one
 * that is well-formed but not this job's owner's (or a job without an owner)
 * is a 403. Every error says which.
 */
export class ControlAuth {
  readonly #operatorDigest: Buffer | undefined
  readonly #maxSkewMs: number
  readonly #now: () => number
  /** `jobId nonce` → expiry, to refuse a signed request replayed within its window. */
  readonly #nonces = new Map<string, number>()

  constructor(options: ControlAuthOptions = {}) {
    if (options.operatorToken !== undefined && options.operatorToken.length < 16) {
      throw new InvalidOptionError(
        'operatorToken',
        'must be at least 16 characters',
        `${options.operatorToken.length} characters`,
      )
    }
    this.#operatorDigest = options.operatorToken === undefined ? undefined : digest(options.operatorToken)
    this.#maxSkewMs = options.maxSkewMs ?? CONTROL_SIGNATURE_MAX_SKEW_MS
    this.#now = options.now ?? Date.now
  }

  /**
   * Check `authorization` (the raw header) for `action` on a job owned by
   * `owner` (null: no owner). Resolves to who it is; throws 401/403 otherwise.
   */
  authorize(
    authorization: string | undefined,
    action: ControlAction,
    jobId: string,
    owner: string | null,
  ): ControlPrincipal {
    const what = `${action === 'cancel' ? 'cancelling' : action} job ${jobId}`
    const needs =
      owner === null
        ? 'the operator token (the job names no owner key)'
        : "a signature by the job's owner key or the operator token"
    if (authorization === undefined || authorization.trim() === '') {
      throw unauthorized(`${what} needs ${needs}`, 'missing')
    }
    const space = authorization.indexOf(' ')
    const scheme = space === -1 ? authorization : authorization.slice(0, space)
    const params = space === -1 ? '' : authorization.slice(space + 1)
    if (scheme.toLowerCase() === 'bearer') return this.#operator(params.trim(), what)
    if (scheme !== OWNER_AUTH_SCHEME) {
      throw unauthorized(
        `unknown authorization scheme "${scheme.slice(0, 20)}": use Bearer or ${OWNER_AUTH_SCHEME}`,
        'scheme',
      )
    }
    if (owner === null) {
      throw forbidden(
        `${what} needs the operator token: the job names no owner key, so no signature can cancel it`,
        'no-owner',
      )
    }
    const auth = parseOwnerAuthorization(params)
    if (typeof auth === 'string') throw unauthorized(`malformed owner authorization: ${auth}`, 'malformed')
    const now = this.#now()
    const skew = auth.timestamp - now
    if (Math.abs(skew) > this.#maxSkewMs) {
      throw unauthorized(
        `the signature's timestamp is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'old' : 'in the future'}; the limit is ${this.#maxSkewMs / 1000} s either way (check the clock, then sign again)`,
        'stale',
      )
    }
    const payload = Buffer.from(controlPayload(action, jobId, auth.timestamp, auth.nonce))
    if (!verifies(owner, payload, auth.signature)) {
      throw forbidden(`the signature does not verify against the owner key of job ${jobId}`, 'not-owner')
    }
    const seen = `${jobId} ${auth.nonce}`
    this.#forgetExpired(now)
    if (this.#nonces.has(seen)) throw unauthorized('this signed request was already used: sign a new one', 'replayed')
    if (this.#nonces.size >= MAX_REMEMBERED_NONCES) this.#nonces.delete(this.#nonces.keys().next().value as string)
    this.#nonces.set(seen, auth.timestamp + this.#maxSkewMs)
    return 'owner'
  }

  #operator(token: string, what: string): ControlPrincipal {
    if (this.#operatorDigest === undefined) {
      throw forbidden(`${what}: this coordinator has no operator token, so no Bearer token is accepted`, 'no-operator')
    }
    // Compare digests: constant time, and whatever the length of what was sent.
    if (!timingSafeEqual(digest(token), this.#operatorDigest)) {
      throw unauthorized('the operator token does not match', 'bad-token')
    }
    return 'operator'
  }

  #forgetExpired(now: number): void {
    for (const [key, expiry] of this.#nonces) {
      if (expiry >= now) break
      this.#nonces.delete(key)
    }
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function ownerPublicKey(owner: string): KeyObject {
  const raw = Buffer.from(owner.slice(owner.indexOf(':') + 1), 'hex')
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** Whether `signature` is the owner's over `payload`; a key that does not even load verifies nothing. */
function verifies(owner: string, payload: Buffer, signature: string): boolean {
  try {
    return verify(null, payload, ownerPublicKey(owner), Buffer.from(signature, 'base64url'))
  } catch {
    return false
  }
}

function unauthorized(message: string, problem: string): QuorateError {
  return new QuorateError(ErrorCode.UNAUTHORIZED, message, { details: { problem } })
}

function forbidden(message: string, problem: string): QuorateError {
  return new QuorateError(ErrorCode.FORBIDDEN, message, { details: { problem } })
}
