/**
 * Credentials for controlling a job over the HTTP API.
 *
 * A job spec may name an owner key (`owner: "ed25519:<64 hex>"`, the raw
 * Ed25519 public key). Cancelling that job then needs the owner's signature
 * over {@link controlPayload}: the action, the job id, a timestamp the
 * coordinator bounds (so a captured request cannot be replayed later) and a
 * random nonce (so it cannot be replayed within the window either). It is
 * sent as `Authorization: QuorateOwner ts=…, nonce=…, sig=…`. Operators use
 * `Authorization: Bearer <operator token>`. Building and checking these
 * strings is pure; signing and verifying are the SDK's and coordinator's.
 */

/** Prefix of an owner key in a job spec; the scheme is named so others can be added. */
export const OWNER_KEY_PREFIX = 'ed25519:'
export const OWNER_KEY_PATTERN = /^ed25519:[0-9a-f]{64}$/
/** Authorization scheme of an owner's signed request. */
export const OWNER_AUTH_SCHEME = 'QuorateOwner'
/** How far a signed request's timestamp may be from the coordinator's clock, either way. */
export const CONTROL_SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000

/** What an owner may do to a job with a signature. */
export type ControlAction = 'cancel'

export interface OwnerAuthorization {
  /** Unix ms when the request was signed. */
  timestamp: number
  /** 16 to 64 hex digits, fresh per request. */
  nonce: string
  /** Ed25519 signature over {@link controlPayload}, base64url. */
  signature: string
}

/** The exact bytes an owner signs to authorize `action` on `jobId` (UTF-8 of this string). */
export function controlPayload(action: ControlAction, jobId: string, timestamp: number, nonce: string): string {
  return `quorate:control:v1\n${action}\n${jobId}\n${timestamp}\n${nonce}`
}

export function formatOwnerAuthorization(auth: OwnerAuthorization): string {
  return `${OWNER_AUTH_SCHEME} ts=${auth.timestamp}, nonce=${auth.nonce}, sig=${auth.signature}`
}

/**
 * Parse the parameters of a `QuorateOwner` Authorization header; a string
 * naming what is wrong when it does not parse.
 */
export function parseOwnerAuthorization(params: string): OwnerAuthorization | string {
  if (params.length > 512) return 'the owner authorization is too long'
  const fields = new Map<string, string>()
  for (const part of params.split(',')) {
    const match = /^\s*([a-z]+)=([^\s,]+)\s*$/.exec(part)
    if (match === null) return `cannot read "${part.trim().slice(0, 40)}": expected ts=…, nonce=…, sig=…`
    fields.set(match[1] as string, match[2] as string)
  }
  const ts = fields.get('ts')
  const nonce = fields.get('nonce')
  const sig = fields.get('sig')
  if (ts === undefined || !/^[0-9]{1,16}$/.test(ts)) return 'ts must be the signing time in Unix milliseconds'
  if (nonce === undefined || !/^[0-9a-f]{16,64}$/.test(nonce)) return 'nonce must be 16 to 64 lower-case hex digits'
  if (sig === undefined || !/^[A-Za-z0-9_-]{86}$/.test(sig)) return 'sig must be a base64url Ed25519 signature'
  return { timestamp: Number(ts), nonce, signature: sig }
}
