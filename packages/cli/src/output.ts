import { isQuorateError } from '@quorate/protocol'

/** Exit codes of the `quorate` command, documented in the CLI README. */
export const EXIT = {
  OK: 0,
  /** The command ran but its job did not fully succeed (some shards failed, cancelled, expired). */
  JOB_FAILED: 1,
  /** Bad flags, a bad job spec, or payment needed/short: the user can fix the command. */
  USAGE: 2,
  /** The coordinator or the network could not be reached. */
  UNAVAILABLE: 3,
  /** Anything else. */
  INTERNAL: 4,
  /** A result the coordinator returned did not verify (digest or quorum): do not use it. */
  UNVERIFIED: 5,
} as const

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Print an error the way a person wants to read it: one line, then what to do. */
export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n(run with --help for usage)\n`)
    return EXIT.USAGE
  }
  if (isQuorateError(err)) {
    process.stderr.write(`error: ${err.message}\n`)
    const issues = (err.details as { issues?: Array<{ field: string; message: string }> }).issues
    if (Array.isArray(issues) && issues.length > 1) {
      for (const issue of issues) process.stderr.write(`  - ${issue.field}: ${issue.message}\n`)
    }
    if (err.hint !== undefined) process.stderr.write(`hint: ${err.hint}\n`)
    switch (err.code) {
      case 'INVALID_JOB_SPEC':
      case 'INVALID_OPTION':
      case 'BAD_REQUEST':
      case 'PAYLOAD_TOO_LARGE':
      case 'JOB_NOT_FOUND':
      case 'PAYMENT_REQUIRED':
        return EXIT.USAGE
      case 'COORDINATOR_UNREACHABLE':
        return EXIT.UNAVAILABLE
      case 'RESULT_VERIFICATION':
        return EXIT.UNVERIFIED
      default:
        return EXIT.INTERNAL
    }
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return EXIT.INTERNAL
}

export function shortId(id: string, length = 8): string {
  return id.length <= length ? id : id.slice(0, length)
}

/** The error as one JSON document, for `--json` callers: `{"error": {"code", "message", "details"}}`. */
export function errorJson(err: unknown): string {
  if (err instanceof UsageError) return JSON.stringify({ error: { code: 'USAGE', message: err.message } })
  if (isQuorateError(err)) {
    return JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } })
  }
  return JSON.stringify({ error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } })
}
