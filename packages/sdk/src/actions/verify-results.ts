import {
  fromBase64,
  type JobResultsView,
  type JobView,
  type OutputBlobRef,
  type ShardState,
  type ShardView,
  sha256Hex,
} from '@quorate/protocol'
import { ResultVerificationError, type VerificationCheck } from '../errors.ts'
import type { verifySignatures } from './verify-signatures.ts'

/** One shard's decided result, checked by the SDK. */
export interface ShardResult {
  index: number
  state: ShardState
  /** Accepted output (for `ok` outcomes); its sha256 was checked against `digest`. */
  output?: Uint8Array
  /**
   * A large accepted output held as a blob (then `output` is absent): its `sha256` was checked to be
   * `digest`; fetch the bytes with `readOutput(client, result)` or `downloadBlob(client, outputBlob)`.
   */
  outputBlob?: OutputBlobRef
  digest?: string
  outcome?: string
  /** Providers whose results formed the quorum (distinct, at least the job's quorum). */
  majority: string[]
  /** Providers whose results disagreed with it. */
  minority: string[]
  reason?: string
}

export interface VerifyResultsParameters {
  /** The job as the coordinator describes it (`GET /v1/jobs/:id`). */
  job: JobView
  /** The job's results (`GET /v1/jobs/:id/results`). */
  results: JobResultsView
  /**
   * The quorum the submitter asked for. When given, a job view claiming a
   * smaller quorum is rejected, so a coordinator cannot lower the bar after
   * the fact.
   */
  expectedQuorum?: number
}

export type VerifyResultsReturnType = ShardResult[]
export type VerifyResultsErrorType = ResultVerificationError

/**
 * Check a finished job's results instead of trusting the coordinator, and
 * return them decoded, in shard order. For every accepted shard:
 *
 * - the output hashes (sha256) to the digest the shard was accepted with;
 * - its `majority` names at least the job's quorum of **distinct**
 *   providers, none of them also in the minority;
 * - the job view agrees: the same digest, and at least quorum distinct
 *   providers' replicas voted for it.
 *
 * The results must list every shard of the job, in order. Anything else
 * throws a {@link ResultVerificationError} naming the shard and the check.
 *
 * What this proves: the coordinator's own record is consistent and the
 * bytes are the ones voted on. It does not prove that the named providers
 * signed those results; for a paid job, {@link verifySignatures} checks that
 * against the on-chain Registry (`results()` does so when the client has
 * `chain` settings).
 *
 * @example
 * ```ts
 * import { verifyResults } from '@quorate/sdk'
 * const shards = verifyResults({ job: await client.getJob(id), results: await client.getResults(id) })
 * ```
 */
export function verifyResults(parameters: VerifyResultsParameters): VerifyResultsReturnType {
  const { job, results, expectedQuorum } = parameters
  const fail = failureOf(job.id)
  verifyJobHeader(job, results.id, expectedQuorum, fail)
  if (results.shards.length !== job.shards.total) {
    throw fail(undefined, 'shards', `${results.shards.length} shard results for a job of ${job.shards.total} shards`)
  }
  return results.shards.map((shard, position) => {
    if (shard.index !== position) {
      throw fail(position, 'shards', `result at position ${position} is for shard ${shard.index}`)
    }
    return verifyShardResult(job, shard, job.shardList[shard.index], fail)
  })
}

/**
 * The checks of a whole job before its shards: the results are for this job, and the coordinator
 * did not lower the quorum the submitter asked for.
 */
export function verifyJobHeader(
  job: { id: string; quorum: number },
  resultsJobId: string,
  expectedQuorum: number | undefined,
  fail: VerificationFailure,
): void {
  if (resultsJobId !== job.id) throw fail(undefined, 'view', `the results are for job ${resultsJobId}`)
  if (expectedQuorum !== undefined && job.quorum < expectedQuorum) {
    throw fail(
      undefined,
      'quorum',
      `the coordinator reports quorum ${job.quorum}, but the job was submitted with ${expectedQuorum}`,
      { reported: job.quorum, expected: expectedQuorum },
    )
  }
}

type ResultShard = JobResultsView['shards'][number]
/** Builds the error of a failed check: which shard, which check, what is wrong. */
export type VerificationFailure = (
  shard: number | undefined,
  check: VerificationCheck,
  problem: string,
  details?: Record<string, unknown>,
) => ResultVerificationError
type Fail = VerificationFailure

/** A failure-builder for job `jobId`. */
export function failureOf(jobId: string): VerificationFailure {
  return (shard, check, problem, details = {}) =>
    new ResultVerificationError({ jobId, ...(shard === undefined ? {} : { shard }), check, problem, details })
}

/**
 * One shard's checks (see {@link verifyResults}): its output against its digest, its majority
 * against the quorum, and the job view's shard `viewShard` against both.
 */
export function verifyShardResult(
  job: Pick<JobView, 'quorum'>,
  shard: ResultShard,
  viewShard: ShardView | undefined,
  fail: Fail,
): ShardResult {
  const index = shard.index
  const result: ShardResult = { index, state: shard.state, majority: shard.majority, minority: shard.minority }
  if (shard.digest !== undefined) result.digest = shard.digest
  if (shard.outcome !== undefined) result.outcome = shard.outcome
  if (shard.reason !== undefined) result.reason = shard.reason
  if (shard.state !== 'accepted') {
    if (shard.output !== undefined || shard.outputBlob !== undefined) {
      throw fail(index, 'view', `the shard is ${shard.state} but has an output`)
    }
    return result
  }

  const digest = shard.digest
  if (digest === undefined) throw fail(index, 'digest', 'accepted without a digest')
  if (shard.output !== undefined && shard.outputBlob !== undefined) {
    throw fail(index, 'view', 'the shard has both an inline output and an output blob')
  }
  if (shard.output !== undefined) {
    const output = fromBase64(shard.output)
    if (output === undefined) throw fail(index, 'digest', 'the output is not valid base64')
    const actual = sha256Hex(output)
    if (actual !== digest) {
      throw fail(
        index,
        'digest',
        `the output's sha256 is ${actual.slice(0, 12)}…, but the shard was accepted with digest ${digest.slice(0, 12)}…`,
        { expected: digest, actual },
      )
    }
    result.output = output
  } else if (shard.outputBlob !== undefined) {
    // The blob's name is the sha256 of its bytes: it must be the digest voted on (the bytes are
    // checked against it again when downloaded).
    if (shard.outputBlob.sha256 !== digest) {
      throw fail(
        index,
        'digest',
        `the output blob is ${shard.outputBlob.sha256.slice(0, 12)}…, but the shard was accepted with digest ${digest.slice(0, 12)}…`,
        { expected: digest, actual: shard.outputBlob.sha256 },
      )
    }
    result.outputBlob = { sha256: shard.outputBlob.sha256, size: shard.outputBlob.size }
  } else if (shard.outcome === 'ok') {
    throw fail(index, 'digest', 'accepted with an ok outcome but no output')
  }

  checkQuorum(job, shard, fail)
  checkView(job, shard, viewShard, digest, fail)
  return result
}

/** The majority: distinct providers, at least the job's quorum, none of them also in the minority. */
function checkQuorum(job: Pick<JobView, 'quorum'>, shard: ResultShard, fail: Fail): void {
  const index = shard.index
  const distinct = new Set(shard.majority)
  if (distinct.size !== shard.majority.length) {
    throw fail(
      index,
      'quorum',
      `the majority names a provider more than once (${shard.majority.length} entries, ${distinct.size} distinct)`,
      {
        majority: shard.majority,
      },
    )
  }
  if (distinct.size < job.quorum) {
    throw fail(
      index,
      'quorum',
      `accepted by ${distinct.size} distinct providers, but the job's quorum is ${job.quorum}`,
      {
        majority: shard.majority,
        quorum: job.quorum,
      },
    )
  }
  const both = shard.minority.filter((p) => distinct.has(p))
  if (both.length > 0)
    throw fail(index, 'quorum', `provider ${both[0]} is in both the majority and the minority`, { provider: both[0] })
}

/** The job view agrees: the same digest, and a quorum of distinct providers voting for it. */
function checkView(
  job: Pick<JobView, 'quorum'>,
  shard: ResultShard,
  viewShard: ShardView | undefined,
  digest: string,
  fail: Fail,
): void {
  const index = shard.index
  if (viewShard === undefined || viewShard.digest !== digest) {
    throw fail(
      index,
      'view',
      `the job view gives digest ${viewShard?.digest?.slice(0, 12) ?? 'none'} for an output accepted with ${digest.slice(0, 12)}…`,
      {
        viewDigest: viewShard?.digest,
        digest,
      },
    )
  }
  const voters = new Set(
    viewShard.replicas.filter((r) => r.vote === 'majority' && r.digest === digest).map((r) => r.provider),
  )
  if (voters.size < job.quorum) {
    throw fail(
      index,
      'view',
      `the job view shows ${voters.size} distinct providers voting for the digest, the quorum is ${job.quorum}`,
      {
        voters: [...voters],
        quorum: job.quorum,
      },
    )
  }
}
