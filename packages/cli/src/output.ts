import { ErrorCode, isQuorateError } from '@quorate/protocol'

/** Exit codes of the `quorate` command, documented in the CLI README. */
export const EXIT = {
  OK: 0,
  /** The command ran but its job did not fully succeed (some shards failed or a module failed, cancelled, expired). */
  JOB_FAILED: 1,
  /** Bad flags, a bad job spec, or payment needed/short: the user can fix the command. */
  USAGE: 2,
  /** The coordinator (or its backend), the chain's RPC endpoint or the network could not be reached (the URL is named). */
  UNAVAILABLE: 3,
  /** Anything else. */
  INTERNAL: 4,
  /** A result the coordinator returned did not verify (digest or quorum): do not use it. */
  UNVERIFIED: 5,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/**
 * What each exit code means, in a few words: the one source for every
 * `--help` text (and checked against the CLI README's table by a test).
 */
export const EXIT_MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: 'success',
  1: 'the job did not fully succeed',
  2: 'bad usage, input or payment',
  3: 'coordinator or chain unreachable',
  4: 'internal error',
  5: 'a result did not verify',
}

/**
 * The "Exit codes: …" paragraph of a help text: the codes a command can
 * return, each with the shared meaning unless the command says it more
 * precisely (`overrides`), wrapped to 100 columns.
 */
export function exitCodesHelp(codes: readonly ExitCode[], overrides: Partial<Record<ExitCode, string>> = {}): string {
  const parts = codes.map((code) => `${code} ${overrides[code] ?? EXIT_MEANINGS[code]}`)
  const words = `Exit codes: ${parts.join('; ')}.`.split(' ')
  const lines: string[] = []
  let line = ''
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > 100) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines.join('\n')
}

/**
 * The one place an error code becomes an exit code: what the user can fix
 * (a flag, a spec, a payment, a key, a chain that refused: allowance,
 * balance, deadline, coordinator, stake) is 2, what could not be reached is 3, a
 * result that did not verify is 5, everything else (a chain action that
 * failed for no fixable reason included) is 4.
 */
export function exitCodeOf(code: string): ExitCode {
  switch (code) {
    case ErrorCode.INVALID_JOB_SPEC:
    case ErrorCode.INVALID_OPTION:
    case ErrorCode.BAD_REQUEST:
    case ErrorCode.PAYLOAD_TOO_LARGE:
    case ErrorCode.VIEW_TOO_LARGE:
    case ErrorCode.JOB_NOT_FOUND:
    case ErrorCode.PAYMENT_REQUIRED:
    case ErrorCode.CHAIN_REFUSED:
    case ErrorCode.UNAUTHORIZED:
    case ErrorCode.FORBIDDEN:
    case ErrorCode.BLOB_MISSING:
    case ErrorCode.BLOB_MISMATCH:
      return EXIT.USAGE
    case ErrorCode.COORDINATOR_UNREACHABLE:
    case ErrorCode.CHAIN_UNREACHABLE:
    case ErrorCode.BACKEND_UNAVAILABLE:
      return EXIT.UNAVAILABLE
    case ErrorCode.RESULT_VERIFICATION:
      return EXIT.UNVERIFIED
    default:
      return EXIT.INTERNAL
  }
}

/** The code `--json` output gives a usage error; not an {@link ErrorCode}, since it never leaves the CLI. */
export const USAGE_ERROR_CODE = 'USAGE'

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
    return exitCodeOf(err.code)
  }
  // A stack trace helps only whoever debugs the CLI itself; QUORATE_DEBUG=1 prints it.
  const debug = process.env.QUORATE_DEBUG === '1'
  process.stderr.write(
    `error: ${err instanceof Error ? ((debug ? err.stack : undefined) ?? err.message) : String(err)}\n`,
  )
  return EXIT.INTERNAL
}

export function shortId(id: string, length = 8): string {
  return id.length <= length ? id : id.slice(0, length)
}

/** The error as one JSON document, for `--json` callers: `{"error": {"code", "message", "details"}}`. */
export function errorJson(err: unknown): string {
  if (err instanceof UsageError) return JSON.stringify({ error: { code: USAGE_ERROR_CODE, message: err.message } })
  if (isQuorateError(err)) {
    return JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } })
  }
  return JSON.stringify({
    error: { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) },
  })
}
