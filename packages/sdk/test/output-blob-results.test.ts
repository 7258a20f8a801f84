import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type JobResultsView, type JobView, sha256Hex } from '@quorate/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { downloadBlob, type ResultVerificationError, readOutput, verifyResults } from '../src/index.ts'

const JOB = 'e'.repeat(64)
const output = new Uint8Array(300_000).map((_, i) => (i * 13) % 256)
const digest = sha256Hex(output)

/** A finished job of one shard whose accepted output is held as a blob. */
function fixture(outputBlob = { sha256: digest, size: output.byteLength }): { job: JobView; results: JobResultsView } {
  const replicas = ['A', 'B'].map((provider, slot) => ({
    assignmentId: `0-${slot}`,
    slot,
    attempt: 1,
    provider,
    state: 'done' as const,
    outcome: 'ok',
    digest,
    vote: 'majority' as const,
    dispatchedAt: 0,
  }))
  const job: JobView = {
    id: JOB,
    state: 'completed',
    createdAt: 0,
    updatedAt: 0,
    deadline: 0,
    shards: { total: 1, accepted: 1, failed: 0, pending: 0 },
    redundancy: 2,
    quorum: 2,
    moduleSha256: 'a'.repeat(64),
    args: [],
    maxReplicas: 4,
    limits: { timeoutMs: 1, memoryMiB: 1, outputBytes: 1, stderrBytes: 1, fuel: 1 },
    shardList: [
      { index: 0, state: 'accepted', inputBytes: 1, inputSha256: 'b'.repeat(64), digest, outcome: 'ok', replicas },
    ],
  }
  const results: JobResultsView = {
    id: JOB,
    state: 'completed',
    shards: [{ index: 0, state: 'accepted', digest, outcome: 'ok', outputBlob, majority: ['A', 'B'], minority: [] }],
  }
  return { job, results }
}

describe('results whose output is a blob', () => {
  /** A coordinator's blob route serving `body` for any blob. */
  let body: Uint8Array = output
  const server = createServer((_req, res) => res.end(body))
  let client: { coordinatorUrl: string }
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    client = { coordinatorUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('verify with the blob named by the digest, and read back checked', async () => {
    const [shard] = verifyResults(fixture())
    expect(shard?.output).toBeUndefined()
    expect(shard?.outputBlob).toEqual({ sha256: digest, size: output.byteLength })
    body = output
    expect(Buffer.from((await readOutput(client, shard!)) as Uint8Array).equals(Buffer.from(output))).toBe(true)
  })

  it('refuse a blob that is not the digest voted on', () => {
    const err = (() => {
      try {
        verifyResults(fixture({ sha256: 'd'.repeat(64), size: 10 }))
      } catch (e) {
        return e as ResultVerificationError
      }
      throw new Error('accepted')
    })()
    expect(err.details).toMatchObject({ shard: 0, check: 'digest', expected: digest, actual: 'd'.repeat(64) })
  })

  it('refuse bytes from the coordinator that are not the blob', async () => {
    body = new Uint8Array(output).fill(1, 0, 1)
    await expect(downloadBlob(client, { sha256: digest, size: output.byteLength })).rejects.toMatchObject({
      code: 'BLOB_MISMATCH',
    })
    body = output.subarray(1)
    await expect(downloadBlob(client, { sha256: digest, size: output.byteLength })).rejects.toThrow(
      `came back with ${output.byteLength - 1} bytes, not ${output.byteLength}`,
    )
  })
})
