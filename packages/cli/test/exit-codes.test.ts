import { readFile } from 'node:fs/promises'
import { ErrorCode } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { httpUrl } from '../src/args.ts'
import { EXIT, EXIT_MEANINGS, exitCodeOf, exitCodesHelp, UsageError } from '../src/output.ts'

describe('exit codes: one source for help and docs', () => {
  it("every code's meaning in EXIT_MEANINGS opens its row in the CLI README's table", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const code of Object.values(EXIT)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| ${code} |`))
      expect(row, `README row for exit code ${code}`).toBeDefined()
      expect(row, `README row for exit code ${code}`).toContain(`| ${code} | ${EXIT_MEANINGS[code]}`)
    }
  })

  it('help paragraphs take the shared meanings unless a command says more, wrapped at 100 columns', () => {
    const text = exitCodesHelp([0, 2, 3], { 0: 'printed' })
    expect(text).toBe('Exit codes: 0 printed; 2 bad usage, input or payment; 3 coordinator or chain unreachable.')
    const long = exitCodesHelp([0, 1, 2, 3, 4, 5])
    for (const line of long.split('\n')) expect(line.length).toBeLessThanOrEqual(100)
  })
})

describe('error codes to exit codes', () => {
  it('maps every error code: fixable 2, unreachable 3, unverified 5, the rest 4', () => {
    const expected: Record<ErrorCode, number> = {
      INVALID_JOB_SPEC: EXIT.USAGE,
      INVALID_OPTION: EXIT.USAGE,
      JOB_NOT_FOUND: EXIT.USAGE,
      NOT_FOUND: EXIT.INTERNAL,
      PAYLOAD_TOO_LARGE: EXIT.USAGE,
      VIEW_TOO_LARGE: EXIT.USAGE,
      BAD_REQUEST: EXIT.USAGE,
      FRAME_TOO_LARGE: EXIT.INTERNAL,
      MALFORMED_MESSAGE: EXIT.INTERNAL,
      PROTOCOL_VERSION: EXIT.INTERNAL,
      TIMEOUT: EXIT.INTERNAL,
      QUEUE_FULL: EXIT.INTERNAL,
      RESULT_VERIFICATION: EXIT.UNVERIFIED,
      COORDINATOR_UNREACHABLE: EXIT.UNAVAILABLE,
      BACKEND_UNAVAILABLE: EXIT.UNAVAILABLE,
      CHAIN_UNREACHABLE: EXIT.UNAVAILABLE,
      CHAIN_REFUSED: EXIT.USAGE,
      CHAIN_FAILED: EXIT.INTERNAL,
      PAYMENT_REQUIRED: EXIT.USAGE,
      PROVIDER_NOT_ADMITTED: EXIT.INTERNAL,
      PEER_LIMIT: EXIT.INTERNAL,
      UNAUTHORIZED: EXIT.USAGE,
      FORBIDDEN: EXIT.USAGE,
      BLOB_MISSING: EXIT.USAGE,
      BLOB_MISMATCH: EXIT.USAGE,
      BLOB_STORE_FULL: EXIT.INTERNAL,
      INTERNAL: EXIT.INTERNAL,
    }
    const got = Object.fromEntries(Object.values(ErrorCode).map((code) => [code, exitCodeOf(code)]))
    expect(got).toEqual(expected)
  })
})

describe('URLs from flags', () => {
  it('passes http(s) URLs through', () => {
    expect(httpUrl('--coordinator', 'http://127.0.0.1:7700')).toBe('http://127.0.0.1:7700')
    expect(httpUrl('--rpc', 'ws://127.0.0.1:8545', ['http:', 'https:', 'ws:', 'wss:'])).toBe('ws://127.0.0.1:8545')
  })

  it('asks "did you mean http://…" for a host:port without a scheme, localhost included', () => {
    expect(() => httpUrl('--coordinator', '127.0.0.1:7741')).toThrow(
      new UsageError('--coordinator "127.0.0.1:7741" is not an http(s) URL; did you mean http://127.0.0.1:7741?'),
    )
    expect(() => httpUrl('--coordinator', 'localhost:7700')).toThrow(/did you mean http:\/\/localhost:7700\?/)
  })

  it('refuses another scheme without guessing', () => {
    expect(() => httpUrl('--coordinator', 'ftp://example')).toThrow(
      new UsageError('--coordinator "ftp://example" is not an http(s) URL'),
    )
  })
})
