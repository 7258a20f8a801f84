import type { ChainClient } from '../client.ts'
import { escrowInterface, type JobStatusName, jobStatusNames } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toBytes32 } from '../hex.ts'
import { invalid, readContract } from '../internal.ts'

export interface GetJobParameters {
  jobId: string
}

/** A job as the Escrow stores it. `status` is `none` for an id nobody funded. */
export interface EscrowJob {
  jobId: string
  status: JobStatusName
  submitter: string
  coordinator: string
  /** sha256 of the canonical job spec, bytes32. */
  specHash: string
  budget: bigint
  maxFee: bigint
  /** Unix seconds. */
  deadline: bigint
  /** Unix seconds; 0 until settled. */
  settledAt: bigint
  quorum: number
}
export type GetJobReturnType = EscrowJob

export class GetJobError extends ChainError {
  override name = 'GetJobError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getJob', failure, options)
  }
}

export async function getJob(client: ChainClient, params: GetJobParameters): Promise<GetJobReturnType> {
  const jobId = toBytes32(params.jobId)
  if (jobId === undefined) throw invalid(GetJobError, `jobId must be 32 bytes of hex (got ${params.jobId})`)
  const job = (await readContract(client, GetJobError, escrowInterface, client.addresses.escrow, 'getJob', [
    jobId,
  ])) as Record<string, unknown>
  return {
    jobId,
    status: jobStatusNames[Number(job.status)] ?? 'none',
    submitter: job.submitter as string,
    coordinator: job.coordinator as string,
    specHash: job.specHash as string,
    budget: job.budget as bigint,
    maxFee: job.maxFee as bigint,
    deadline: job.deadline as bigint,
    settledAt: job.settledAt as bigint,
    quorum: Number(job.quorum),
  }
}
