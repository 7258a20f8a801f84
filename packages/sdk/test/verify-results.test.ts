import { type JobResultsView, type JobView, sha256Hex, toBase64 } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { type ResultVerificationError, verifyResults } from '../src/index.ts'

const JOB = 'f'.repeat(64)
const outputs = ['2 3 5 7\n', '11 13\n'].map((s) => new TextEncoder().encode(s))

/** A consistent finished job of two shards, each accepted by A and B (redundancy 3, quorum 2). */
function fixture(): { job: JobView; results: JobResultsView } {
  const shards = outputs.map((output, index) => ({ index, digest: sha256Hex(output), output }))
  const job: JobView = {
    id: JOB,
    state: 'completed',
    createdAt: 0,
    updatedAt: 0,
    deadline: 0,
    shards: { total: 2, accepted: 2, failed: 0, pending: 0 },
    redundancy: 3,
    quorum: 2,
    moduleSha256: 'a'.repeat(64),
    args: [],
    maxReplicas: 5,
    limits: { timeoutMs: 1, memoryMiB: 1, outputBytes: 1, stderrBytes: 1, fuel: 1 },
    shardList: shards.map((s) => ({
      index: s.index,
      state: 'accepted',
      inputBytes: 1,
      inputSha256: 'b'.repeat(64),
      digest: s.digest,
      outcome: 'ok',
      majority: ['A', 'B'],
      minority: ['C'],
      replicas: ['A', 'B', 'C'].map((provider, slot) => ({
        assignmentId: `${s.index}-${slot}`,
        slot,
        attempt: 0,
        provider,
        state: 'done',
        outcome: 'ok',
        digest: provider === 'C' ? 'c'.repeat(64) : s.digest,
        vote: provider === 'C' ? 'minority' : 'majority',
        dispatchedAt: 0,
      })),
    })),
  }
  const results: JobResultsView = {
    id: JOB,
    state: 'completed',
    shards: shards.map((s) => ({
      index: s.index,
      state: 'accepted',
      digest: s.digest,
      outcome: 'ok',
      output: toBase64(s.output),
      majority: ['A', 'B'],
      minority: ['C'],
    })),
  }
  return { job, results }
}

function rejection(f: () => unknown): ResultVerificationError {
  try {
    f()
  } catch (err) {
    return err as ResultVerificationError
  }
  throw new Error('expected a ResultVerificationError')
}

describe('verifyResults', () => {
  it('returns decoded outputs in shard order when everything checks out', () => {
    const shards = verifyResults(fixture())
    expect(shards.map((s) => new TextDecoder().decode(s.output))).toEqual(['2 3 5 7\n', '11 13\n'])
    expect(shards[1]?.majority).toEqual(['A', 'B'])
  })

  it('detects an altered output, naming the shard', () => {
    const { job, results } = fixture()
    const shard = results.shards[1]
    if (shard !== undefined) shard.output = toBase64(new TextEncoder().encode('11 13 17\n'))
    const err = rejection(() => verifyResults({ job, results }))
    expect(err.code).toBe('RESULT_VERIFICATION')
    expect(err.message).toMatchInlineSnapshot(
      `"result of job ffffffffffff shard 1 rejected: the output's sha256 is d4431687505c…, but the shard was accepted with digest db3e86d47ea7…"`,
    )
    expect(err.details).toMatchObject({ jobId: JOB, shard: 1, check: 'digest' })
  })

  it('detects a majority that names one provider twice', () => {
    const { job, results } = fixture()
    const shard = results.shards[0]
    if (shard !== undefined) shard.majority = ['A', 'A']
    const err = rejection(() => verifyResults({ job, results }))
    expect(err.message).toMatchInlineSnapshot(
      `"result of job ffffffffffff shard 0 rejected: the majority names a provider more than once (2 entries, 1 distinct)"`,
    )
    expect(err.details).toMatchObject({ shard: 0, check: 'quorum' })
  })

  it('detects a shard accepted by fewer providers than the quorum', () => {
    const { job, results } = fixture()
    const shard = results.shards[1]
    if (shard !== undefined) shard.majority = ['B']
    expect(rejection(() => verifyResults({ job, results })).message).toMatchInlineSnapshot(
      `"result of job ffffffffffff shard 1 rejected: accepted by 1 distinct providers, but the job's quorum is 2"`,
    )
  })

  it('detects a job view whose replicas do not back the claimed majority', () => {
    const { job, results } = fixture()
    for (const r of job.shardList[0]?.replicas ?? []) if (r.provider === 'B') r.vote = 'minority'
    expect(rejection(() => verifyResults({ job, results })).message).toMatchInlineSnapshot(
      `"result of job ffffffffffff shard 0 rejected: the job view shows 1 distinct providers voting for the digest, the quorum is 2"`,
    )
  })

  it('detects a coordinator that lowers the quorum the job was submitted with', () => {
    const { job, results } = fixture()
    job.quorum = 1
    expect(rejection(() => verifyResults({ job, results, expectedQuorum: 2 })).message).toMatchInlineSnapshot(
      `"result of job ffffffffffff rejected: the coordinator reports quorum 1, but the job was submitted with 2"`,
    )
  })

  it('detects a missing shard', () => {
    const { job, results } = fixture()
    results.shards.pop()
    expect(rejection(() => verifyResults({ job, results })).details).toMatchObject({ check: 'shards' })
  })

  it('passes failed shards through without outputs', () => {
    const { job, results } = fixture()
    results.shards[1] = { index: 1, state: 'failed', majority: [], minority: [], reason: 'no quorum' }
    expect(verifyResults({ job, results })[1]).toEqual({
      index: 1,
      state: 'failed',
      majority: [],
      minority: [],
      reason: 'no quorum',
    })
  })
})
