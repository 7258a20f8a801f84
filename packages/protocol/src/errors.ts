/**
 * One base error for every Quorate package.
 *
 * Callers branch on `code` (or `name`), never on `instanceof`: a process can
 * load two copies of a package, and errors also cross process boundaries as
 * wire frames (see {@link errorToWire} / {@link errorFromWire}).
 */

/** Every error code Quorate can produce, in one place. */
export const ErrorCode = {
  INVALID_JOB_SPEC: 'INVALID_JOB_SPEC',
  INVALID_OPTION: 'INVALID_OPTION',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  /** No such route or file (a job that does not exist is JOB_NOT_FOUND). */
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  BAD_REQUEST: 'BAD_REQUEST',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  MALFORMED_MESSAGE: 'MALFORMED_MESSAGE',
  PROTOCOL_VERSION: 'PROTOCOL_VERSION',
  TIMEOUT: 'TIMEOUT',
  QUEUE_FULL: 'QUEUE_FULL',
  RESULT_VERIFICATION: 'RESULT_VERIFICATION',
  COORDINATOR_UNREACHABLE: 'COORDINATOR_UNREACHABLE',
  /** A chain's JSON-RPC endpoint could not be reached (`details.url` names it). */
  CHAIN_UNREACHABLE: 'CHAIN_UNREACHABLE',
  /**
   * The chain refused an action for a reason the caller can fix: an allowance
   * or balance too small, an escrow short of funds, a deadline passed, the
   * wrong coordinator, too little stake (`details.reason` names the contract's error).
   */
  CHAIN_REFUSED: 'CHAIN_REFUSED',
  /**
   * A chain action failed for a reason the caller cannot fix: a revert that
   * names no known error, a panic, a node that refused the transaction, no receipt in time.
   */
  CHAIN_FAILED: 'CHAIN_FAILED',
  /** The coordinator settles on a chain and the job's escrow is missing, unfunded or too small. */
  PAYMENT_REQUIRED: 'PAYMENT_REQUIRED',
  /** The provider is not registered on the coordinator's chain with enough stake. */
  PROVIDER_NOT_ADMITTED: 'PROVIDER_NOT_ADMITTED',
  /** A peer went over a limit of the task channel: too many bytes before hello, too many connections. */
  PEER_LIMIT: 'PEER_LIMIT',
  /** The request carries no credential, or one that does not verify (HTTP 401). */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The credential verifies but does not allow this action (HTTP 403). */
  FORBIDDEN: 'FORBIDDEN',
  /** A whole-job view was asked of a job too big for one response: read it in pages (HTTP 413). */
  VIEW_TOO_LARGE: 'VIEW_TOO_LARGE',
  /** The coordinator's backend (Redis) cannot be reached now; try again after `Retry-After` (HTTP 503). */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** A job spec names a blob the coordinator does not hold: upload it first (`PUT /v1/blobs/:sha256`). */
  BLOB_MISSING: 'BLOB_MISSING',
  /** Uploaded bytes do not hash to the sha256 they were sent under, or a range does not fit what is held. */
  BLOB_MISMATCH: 'BLOB_MISMATCH',
  /** The coordinator's blob store is at its configured quota (HTTP 507). */
  BLOB_STORE_FULL: 'BLOB_STORE_FULL',
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface QuorateErrorOptions {
  /** Machine-readable context: which field, which shard, which provider. */
  details?: Record<string, unknown>
  /** What the user can do about it. */
  hint?: string
  cause?: unknown
}

/** Base class of every error Quorate throws on purpose. */
export class QuorateError extends Error {
  override name = 'QuorateError'
  readonly code: ErrorCode
  readonly details: Record<string, unknown>
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options: QuorateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details ?? {}
    this.hint = options.hint
  }

  /** HTTP status this error maps to when it crosses the coordinator's API. */
  get httpStatus(): number {
    return httpStatusOf(this.code)
  }

  toJSON(): WireError {
    return errorToWire(this)
  }
}

/** One problem found while validating a job spec, named by its field path. */
export interface SpecIssue {
  /** Dotted path of the offending field, e.g. `limits.memoryMiB` or `inputs[2]`. */
  field: string
  message: string
}

export class InvalidJobSpecError extends QuorateError {
  override name = 'InvalidJobSpecError'
  readonly issues: SpecIssue[]
  constructor(issues: SpecIssue[], options: QuorateErrorOptions = {}) {
    const first = issues[0]
    const head = first === undefined ? 'invalid job spec' : `invalid job spec: ${first.field}: ${first.message}`
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : ''
    super(ErrorCode.INVALID_JOB_SPEC, head + more, { ...options, details: { ...options.details, issues } })
    this.issues = issues
  }
}

export class InvalidOptionError extends QuorateError {
  override name = 'InvalidOptionError'
  constructor(option: string, problem: string, got?: unknown) {
    super(ErrorCode.INVALID_OPTION, `${option} ${problem}${got === undefined ? '' : ` (got ${formatValue(got)})`}`, {
      details: { option, got },
    })
  }
}

export class JobNotFoundError extends QuorateError {
  override name = 'JobNotFoundError'
  constructor(jobId: string) {
    super(ErrorCode.JOB_NOT_FOUND, `no job with id ${jobId}`, { details: { jobId } })
  }
}

export class PayloadTooLargeError extends QuorateError {
  override name = 'PayloadTooLargeError'
  constructor(what: string, limit: number, got?: number) {
    super(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `${what} is larger than the limit of ${limit} bytes${got === undefined ? '' : ` (got ${got})`}`,
      { details: { what, limit, got } },
    )
  }
}

export class FrameTooLargeError extends QuorateError {
  override name = 'FrameTooLargeError'
  constructor(limit: number, got: number) {
    super(ErrorCode.FRAME_TOO_LARGE, `peer sent a ${got}-byte frame, over the ${limit}-byte limit`, {
      details: { limit, got },
    })
  }
}

export class MalformedMessageError extends QuorateError {
  override name = 'MalformedMessageError'
  constructor(problem: string, options: QuorateErrorOptions = {}) {
    super(ErrorCode.MALFORMED_MESSAGE, `malformed message: ${problem}`, options)
  }
}

export class BlobMissingError extends QuorateError {
  override name = 'BlobMissingError'
  constructor(sha256: string, where: string) {
    super(ErrorCode.BLOB_MISSING, `${where} names blob ${sha256}, which this coordinator does not hold`, {
      details: { sha256, where },
      hint: `upload it first: PUT /v1/blobs/${sha256}`,
    })
  }
}

export class BlobMismatchError extends QuorateError {
  override name = 'BlobMismatchError'
  constructor(problem: string, details: Record<string, unknown>) {
    super(ErrorCode.BLOB_MISMATCH, problem, { details })
  }
}

/** The shape an error takes in JSON: HTTP bodies and wire frames. */
export interface WireError {
  code: string
  message: string
  details?: Record<string, unknown>
  hint?: string
}

export function errorToWire(err: unknown): WireError {
  if (isQuorateError(err)) {
    const wire: WireError = { code: err.code, message: err.message }
    if (Object.keys(err.details).length > 0) wire.details = err.details
    if (err.hint !== undefined) wire.hint = err.hint
    return wire
  }
  return { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) }
}

/** The one place where an error frame from a peer or an HTTP body becomes an error object. */
export function errorFromWire(wire: WireError): QuorateError {
  const code = (Object.values(ErrorCode) as string[]).includes(wire.code)
    ? (wire.code as ErrorCode)
    : ErrorCode.INTERNAL
  if (code === ErrorCode.INVALID_JOB_SPEC && Array.isArray(wire.details?.issues)) {
    return new InvalidJobSpecError(wire.details.issues as SpecIssue[])
  }
  const options: QuorateErrorOptions = {}
  if (wire.details !== undefined) options.details = wire.details
  if (wire.hint !== undefined) options.hint = wire.hint
  return new QuorateError(code, wire.message, options)
}

export function isQuorateError(err: unknown): err is QuorateError {
  return (
    err instanceof Error &&
    typeof (err as unknown as { code?: unknown }).code === 'string' &&
    (Object.values(ErrorCode) as string[]).includes((err as unknown as { code: string }).code) &&
    typeof (err as { details?: unknown }).details === 'object'
  )
}

export function httpStatusOf(code: string): number {
  switch (code) {
    case ErrorCode.INVALID_JOB_SPEC:
    case ErrorCode.INVALID_OPTION:
    case ErrorCode.BAD_REQUEST:
      return 400
    case ErrorCode.UNAUTHORIZED:
      return 401
    case ErrorCode.PAYMENT_REQUIRED:
      return 402
    case ErrorCode.FORBIDDEN:
      return 403
    case ErrorCode.JOB_NOT_FOUND:
    case ErrorCode.NOT_FOUND:
      return 404
    case ErrorCode.CHAIN_REFUSED:
    case ErrorCode.BLOB_MISSING:
      return 409
    case ErrorCode.BLOB_MISMATCH:
      return 400
    case ErrorCode.BLOB_STORE_FULL:
      return 507
    case ErrorCode.PAYLOAD_TOO_LARGE:
    case ErrorCode.VIEW_TOO_LARGE:
      return 413
    case ErrorCode.QUEUE_FULL:
    case ErrorCode.CHAIN_UNREACHABLE:
    case ErrorCode.BACKEND_UNAVAILABLE:
      return 503
    default:
      return 500
  }
}

function formatValue(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  } catch {
    return String(value)
  }
}
