import { ErrorCode, errorFromWire, QuorateError, type QuorateErrorOptions } from '@quorate/protocol'

/** The coordinator could not be reached at all (network error, wrong URL). */
export class CoordinatorUnreachableError extends QuorateError {
  override name = 'CoordinatorUnreachableError'
  constructor(url: string, cause: unknown) {
    super(
      ErrorCode.COORDINATOR_UNREACHABLE,
      `cannot reach the coordinator at ${url}: ${(cause as Error)?.message ?? cause}`,
      {
        details: { url },
        hint: 'is the coordinator running? (npx quorate devnet, or npx quorate coordinator start)',
        cause,
      },
    )
  }
}

/**
 * Something answers at the coordinator URL, but not as a Quorate coordinator
 * (an HTML page, another service's 404): the URL is wrong rather than the
 * request. Same code as an unreachable coordinator, since the fix is the same.
 */
export class NotACoordinatorError extends QuorateError {
  override name = 'NotACoordinatorError'
  constructor(url: string, answer: { method: string; path: string; status: number; contentType: string | null }) {
    super(
      ErrorCode.COORDINATOR_UNREACHABLE,
      `${url} is not a Quorate coordinator: ${answer.method} ${answer.path} got HTTP ${answer.status}${answer.contentType === null ? '' : ` (${answer.contentType.split(';')[0]})`} instead of its JSON API`,
      {
        details: { url, ...answer },
        hint: 'check the coordinator URL (-c / QUORATE_COORDINATOR_URL); it is the URL `quorate coordinator start` or `quorate devnet` prints',
      },
    )
  }
}

/**
 * Which check a result failed:
 * - `shards`: the results do not list every shard of the job, in order
 * - `digest`: an output does not hash to the digest its shard was accepted with
 * - `quorum`: an accepted shard is not backed by `quorum` distinct providers
 * - `view`: the job view and the results disagree about a shard
 * - `signatures`: a paid job's accepted shard is not backed by results signed
 *   by the registered operators of its majority providers (checked only when
 *   the client has `chain` settings)
 */
export type VerificationCheck = 'shards' | 'digest' | 'quorum' | 'view' | 'signatures'

export interface ResultVerificationErrorParameters {
  jobId: string
  /** The shard whose result does not check out, when it is one shard. */
  shard?: number
  check: VerificationCheck
  /** One clause: what is wrong. */
  problem: string
  details?: Record<string, unknown>
}

/**
 * A result the coordinator returned does not check out: the SDK does not
 * trust it. `details` names the job, the shard and the check.
 */
export class ResultVerificationError extends QuorateError {
  override name = 'ResultVerificationError'
  constructor(parameters: ResultVerificationErrorParameters, options: Omit<QuorateErrorOptions, 'details'> = {}) {
    const { jobId, shard, check, problem } = parameters
    super(
      ErrorCode.RESULT_VERIFICATION,
      `result of job ${jobId.slice(0, 12)}${shard === undefined ? '' : ` shard ${shard}`} rejected: ${problem}`,
      {
        ...options,
        details: { jobId, ...(shard === undefined ? {} : { shard }), check, ...parameters.details },
        hint:
          options.hint ?? 'the coordinator returned a result it cannot back; do not use it, and report the coordinator',
      },
    )
  }
}

/** `waitFor` gave up before the job finished. */
export class WaitTimeoutError extends QuorateError {
  override name = 'WaitTimeoutError'
  constructor(jobId: string, timeoutMs: number) {
    super(ErrorCode.TIMEOUT, `job ${jobId} did not finish within ${timeoutMs} ms`, { details: { jobId, timeoutMs } })
  }
}

/** What a wallet is short of: the payment token, or the chain's native currency for gas. */
export type ShortAsset = 'token' | 'gas'

export interface InsufficientBalanceErrorParameters {
  /** The wallet's address. */
  address: string
  asset: ShortAsset
  /** The token's address, when the token is short. */
  token?: string
  /** What funding the job needs, in base units (unknown for gas). */
  required?: bigint
  /** What the wallet holds, in base units. */
  balance?: bigint
  /** What the tokens are for, in the message. @defaultValue "the job's escrow" */
  purpose?: string
}

/**
 * The wallet cannot pay for the job: it holds less of the payment token
 * than the escrow needs, or no native currency for gas. Nothing was sent.
 * Code `PAYMENT_REQUIRED`; `details` name the address, token and amounts
 * (decimal strings of base units).
 */
export class InsufficientBalanceError extends QuorateError {
  override name = 'InsufficientBalanceError'
  constructor(parameters: InsufficientBalanceErrorParameters, options: Omit<QuorateErrorOptions, 'details'> = {}) {
    const { address, asset, token, required, balance } = parameters
    const purpose = parameters.purpose ?? "the job's escrow"
    const message =
      asset === 'token'
        ? `wallet ${address} holds ${balance ?? 0n} of token ${token}, but ${purpose} needs ${required}: short by ${(required ?? 0n) - (balance ?? 0n)} base units`
        : `wallet ${address} cannot pay the gas for ${purpose}${balance === undefined ? '' : ` (it holds ${balance} wei)`}`
    super(ErrorCode.PAYMENT_REQUIRED, message, {
      ...options,
      details: {
        address,
        asset,
        ...(token === undefined ? {} : { token }),
        ...(required === undefined ? {} : { required: required.toString() }),
        ...(balance === undefined ? {} : { balance: balance.toString() }),
      },
      hint:
        options.hint ??
        (asset === 'token' ? `send the payment token to ${address}` : `send the chain's native currency to ${address}`),
    })
  }
}

/**
 * Why the SDK could not pay for a job (or price it on chain). The first four
 * are found before any transaction is sent:
 * - `terms`: the coordinator's published terms (`GET /v1/info` → `payment`)
 *   are malformed, or it asks for payment without publishing any
 * - `chain`: the terms name another chain than the wallet's RPC endpoint is on
 * - `contracts`: the terms' Escrow or token is not the one bound to their
 *   Registry on chain, or they name another Registry than the client trusts
 * - `coordinator`: the terms' account is not a coordinator in that Registry
 * - `limit`: the escrow would exceed the wallet's `maxBudget`
 * - `fundings`: every escrow slot for this job and coordinator is used up (reclaim the old ones)
 * - `refused`: the coordinator refused the funding the SDK made or found
 * - `chain-error`: the chain refused a transaction or read for a reason the wallet can fix (see `cause`);
 *   an unreachable RPC endpoint or a chain failure is thrown as the chain's own error
 *   (`CHAIN_UNREACHABLE`, `CHAIN_FAILED`)
 */
export type PaymentProblem =
  | 'terms'
  | 'chain'
  | 'contracts'
  | 'coordinator'
  | 'limit'
  | 'fundings'
  | 'refused'
  | 'chain-error'

/** The SDK's wallet could not pay for a job. Code `PAYMENT_REQUIRED`; `details.problem` says which step failed. */
export class PaymentError extends QuorateError {
  override name = 'PaymentError'
  constructor(problem: PaymentProblem, message: string, options: QuorateErrorOptions = {}) {
    super(ErrorCode.PAYMENT_REQUIRED, message, { ...options, details: { problem, ...options.details } })
  }
}

/**
 * The error a refused blob request answered with: the coordinator's own error when the body is one
 * (`{ code, message }`), else `fallback` with the status and the start of the body.
 */
export function blobAnswerError(status: number, text: string, fallback: ErrorCode, what: string): QuorateError {
  let wire: unknown
  try {
    wire = JSON.parse(text)
  } catch {}
  if (typeof wire === 'object' && wire !== null && typeof (wire as { code?: unknown }).code === 'string') {
    return errorFromWire(wire as { code: string; message: string })
  }
  return new QuorateError(fallback, `${what} answered ${status}: ${text.slice(0, 200)}`)
}
