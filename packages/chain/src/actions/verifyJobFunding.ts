import type { ChainClient } from '../client.ts'
import { toBytes32 } from '../hex.ts'
import { type EscrowJob, getJob } from './getJob.ts'

export interface VerifyJobFundingParameters {
  /** The on-chain job id the submitter funded. */
  jobId: string
  /** The job spec hash the coordinator computed itself (the protocol's job id); must match. */
  specHash?: string
  /** The coordinator's own address; the job must name it. @defaultValue the client's account */
  coordinator?: string
  /** Least budget the coordinator accepts for this job, in token base units. */
  minBudget?: bigint
  /** Least time left before the deadline, in seconds, for the job to be worth starting. @defaultValue 0 */
  minSecondsLeft?: number
  /** Now, in unix seconds. @defaultValue the latest block's timestamp */
  now?: bigint
}
export interface VerifyJobFundingReturnType {
  ok: boolean
  /** One sentence per unmet condition; empty when ok. */
  problems: string[]
  job: EscrowJob
}

/**
 * What a coordinator checks before accepting a job: it is funded (not yet
 * settled or reclaimed), binds the spec the coordinator was given, names
 * this coordinator, carries enough budget and has time left.
 */
export async function verifyJobFunding(
  client: ChainClient,
  params: VerifyJobFundingParameters,
): Promise<VerifyJobFundingReturnType> {
  const job = await getJob(client, { jobId: params.jobId })
  const problems: string[] = []
  if (job.status !== 'funded') {
    problems.push(job.status === 'none' ? 'the job is not funded' : `the job is already ${job.status}`)
  }
  if (params.specHash !== undefined && toBytes32(params.specHash) !== job.specHash) {
    problems.push(`the job funds spec ${job.specHash}, not ${params.specHash}`)
  }
  const coordinator = params.coordinator ?? client.account?.address
  if (
    coordinator !== undefined &&
    job.status !== 'none' &&
    coordinator.toLowerCase() !== job.coordinator.toLowerCase()
  ) {
    problems.push(`the job names coordinator ${job.coordinator}, not ${coordinator}`)
  }
  if (params.minBudget !== undefined && job.budget < params.minBudget) {
    problems.push(`the budget ${job.budget} is under the required ${params.minBudget}`)
  }
  if (job.status === 'funded') {
    const now =
      params.now ?? BigInt((await client.provider.getBlock('latest'))?.timestamp ?? Math.floor(Date.now() / 1000))
    const left = job.deadline - now
    if (left <= BigInt(params.minSecondsLeft ?? 0)) {
      problems.push(`only ${left < 0n ? 0n : left} s are left before the deadline`)
    }
  }
  return { ok: problems.length === 0, problems, job }
}
