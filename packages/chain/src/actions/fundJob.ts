import { AbiCoder, getAddress, keccak256, ZeroHash } from 'ethers'
import type { ChainClient } from '../client.ts'
import { escrowInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toBytes32 } from '../hex.ts'
import { invalid, requireAccount, type WriteResult, writeContract } from '../internal.ts'
import { ensureAllowance } from './approveToken.ts'
import { getJob } from './getJob.ts'

export interface FundJobParameters {
  /** sha256 of the canonical job spec: the protocol's `jobIdOf(spec)`, with or without `0x`. */
  specHash: string
  /** The coordinator that will run and settle the job. */
  coordinator: string
  /** Tokens (base units) escrowed for the job: payouts + fee + refund. */
  budget: bigint
  /** Most the coordinator may keep as its fee. @defaultValue 0n */
  maxFee?: bigint
  /** After this (unix seconds or a Date) the job cannot be settled and the submitter may reclaim. */
  deadline: bigint | number | Date
  /** Matching results needed to accept a shard (the spec's quorum). */
  quorum: number
  /**
   * Distinguishes two fundings of the same spec by the same submitter. With
   * the default, funding the same spec twice returns the first job
   * (`alreadyFunded: true`), which makes retries safe. @defaultValue ZeroHash
   */
  salt?: string
}
export interface FundJobReturnType {
  /** The on-chain job id (bytes32); give it to the coordinator with the spec. */
  jobId: string
  /** True when this submitter had already funded this spec with this salt; nothing was sent. */
  alreadyFunded: boolean
  /** Undefined when already funded. */
  result: WriteResult | undefined
  approveHash: string | undefined
}

export class FundJobError extends ChainError {
  override name = 'FundJobError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('fundJob', failure, options)
  }
}

/** The job id the Escrow assigns; computable before funding. */
export function computeJobId(params: {
  chainId: bigint
  escrow: string
  submitter: string
  specHash: string
  salt?: string
}): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ['uint256', 'address', 'address', 'bytes32', 'bytes32'],
      [
        params.chainId,
        getAddress(params.escrow),
        getAddress(params.submitter),
        params.specHash,
        params.salt ?? ZeroHash,
      ],
    ),
  )
}

/**
 * Escrows a job's budget, approving the Escrow first if needed. Idempotent
 * for the same (submitter, spec, salt): a retry after a crash returns the
 * job already funded instead of paying twice.
 */
export async function fundJob(client: ChainClient, params: FundJobParameters): Promise<FundJobReturnType> {
  const account = requireAccount(client, FundJobError)
  const { jobId, data } = prepareFundJob(client, account.address, params)
  return account.sender.exclusive(async () => {
    const existing = await getJob(client, { jobId }).catch(() => undefined)
    if (existing !== undefined && existing.status !== 'none') {
      return { jobId, alreadyFunded: true, result: undefined, approveHash: undefined }
    }
    const approveHash = await ensureAllowance(client, FundJobError, client.addresses.escrow, params.budget)
    const result = await writeContract(client, FundJobError, { to: client.addresses.escrow, data })
    return { jobId, alreadyFunded: false, result, approveHash }
  })
}

/** Checks fundJob's parameters and encodes the call; shared with the gas estimate. */
export function prepareFundJob(
  client: ChainClient,
  submitter: string,
  params: FundJobParameters,
): { jobId: string; data: string } {
  const specHash = toBytes32(params.specHash)
  if (specHash === undefined) throw invalid(FundJobError, `specHash must be 32 bytes of hex (got ${params.specHash})`)
  const salt = params.salt === undefined ? ZeroHash : toBytes32(params.salt)
  if (salt === undefined) throw invalid(FundJobError, `salt must be 32 bytes of hex (got ${params.salt})`)
  if (params.budget <= 0n) throw invalid(FundJobError, 'budget must be positive')
  const maxFee = params.maxFee ?? 0n
  if (maxFee < 0n || maxFee > params.budget) throw invalid(FundJobError, 'maxFee must be between 0 and the budget')
  if (!Number.isInteger(params.quorum) || params.quorum < 1 || params.quorum > 255) {
    throw invalid(FundJobError, `quorum must be an integer in [1, 255] (got ${params.quorum})`)
  }
  const deadline =
    params.deadline instanceof Date ? BigInt(Math.floor(params.deadline.getTime() / 1000)) : BigInt(params.deadline)
  const jobId = computeJobId({ chainId: client.chainId, escrow: client.addresses.escrow, submitter, specHash, salt })
  const data = escrowInterface.encodeFunctionData('fundJob', [
    { specHash, salt, coordinator: params.coordinator, budget: params.budget, maxFee, deadline, quorum: params.quorum },
  ])
  return { jobId, data }
}
