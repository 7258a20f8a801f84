import type { ChainClient } from '../client.ts'
import { escrowInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toBytes32 } from '../hex.ts'
import { eventsOf, invalid, type WriteResult, writeContract } from '../internal.ts'

export interface ReclaimParameters {
  jobId: string
}
export interface ReclaimReturnType extends WriteResult {
  amount: bigint
}

export class ReclaimError extends ChainError {
  override name = 'ReclaimError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('reclaim', failure, options)
  }
}

/** After the deadline, the submitter takes back the budget of a job nobody settled. */
export async function reclaim(client: ChainClient, params: ReclaimParameters): Promise<ReclaimReturnType> {
  const jobId = toBytes32(params.jobId)
  if (jobId === undefined) throw invalid(ReclaimError, `jobId must be 32 bytes of hex (got ${params.jobId})`)
  const result = await writeContract(client, ReclaimError, {
    to: client.addresses.escrow,
    data: escrowInterface.encodeFunctionData('reclaim', [jobId]),
  })
  const event = eventsOf(result.receipt, escrowInterface, client.addresses.escrow, 'JobReclaimed')[0]
  return { ...result, amount: (event?.args.amount as bigint | undefined) ?? 0n }
}
