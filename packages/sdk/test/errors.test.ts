import { describe, expect, it } from 'vitest'
import {
  type CoordinatorUnreachableError,
  createClient,
  isQuorateError,
  ResultVerificationError,
  WaitTimeoutError,
} from '../src/index.ts'

describe('SDK errors: a code, a one-line message, details', () => {
  it('ResultVerificationError names the job, the shard and the check', () => {
    const err = new ResultVerificationError({
      jobId: 'ab'.repeat(32),
      shard: 4,
      check: 'quorum',
      problem: "accepted by 1 distinct providers, but the job's quorum is 2",
      details: { majority: ['p1'] },
    })
    expect(err.message).toMatchInlineSnapshot(
      `"result of job abababababab shard 4 rejected: accepted by 1 distinct providers, but the job's quorum is 2"`,
    )
    expect({ code: err.code, name: err.name, details: err.details }).toMatchInlineSnapshot(`
      {
        "code": "RESULT_VERIFICATION",
        "details": {
          "check": "quorum",
          "jobId": "abababababababababababababababababababababababababababababababab",
          "majority": [
            "p1",
          ],
          "shard": 4,
        },
        "name": "ResultVerificationError",
      }
    `)
    expect(isQuorateError(err)).toBe(true)
  })

  it('WaitTimeoutError and CoordinatorUnreachableError', async () => {
    expect(new WaitTimeoutError('job-1', 500).message).toMatchInlineSnapshot(`"job job-1 did not finish within 500 ms"`)
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:9'),
    })
    const client = createClient({
      coordinatorUrl: 'http://127.0.0.1:9/',
      fetch: async () => {
        throw refused
      },
    })
    const err = (await client.providers().then(
      () => undefined,
      (e: unknown) => e,
    )) as CoordinatorUnreachableError
    expect(err.code).toBe('COORDINATOR_UNREACHABLE')
    expect(err.message).toMatchInlineSnapshot(
      `"cannot reach the coordinator at http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9"`,
    )
    expect(err.details).toEqual({ url: 'http://127.0.0.1:9' })
  })
})
