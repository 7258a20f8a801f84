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

/** A result the coordinator returned does not check out. */
export class ResultVerificationError extends QuorateError {
  override name = 'ResultVerificationError'
  constructor(message: string, options: QuorateErrorOptions = {}) {
    super(ErrorCode.RESULT_VERIFICATION, message, options)
  }
}

/** `waitFor` gave up before the job finished. */
export class WaitTimeoutError extends QuorateError {
  override name = 'WaitTimeoutError'
  constructor(jobId: string, timeoutMs: number) {
    super(ErrorCode.TIMEOUT, `job ${jobId} did not finish within ${timeoutMs} ms`, { details: { jobId, timeoutMs } })
  }
}
