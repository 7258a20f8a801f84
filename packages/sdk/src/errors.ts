import { ErrorCode, QuorateError, type QuorateErrorOptions } from '@quorate/protocol'

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
