import type { ChainClient } from '../client.ts'
import { escrowInterface } from '../contracts.ts'
import { escrowDomain, recoverShardResultSigner, type SignedShardResult } from '../eip712.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toBytes32 } from '../hex.ts'
import { eventsOf, invalid, type WriteResult, writeContract } from '../internal.ts'
import { getProviderOfOperator } from './getProvider.ts'

export interface PenalizeParameters {
  jobId: string
  /** The minority provider's signed result for the shard. */
  accused: SignedShardResult
  /**
   * Signed results of other providers for the same shard and the accepted
   * digest; at least max(job quorum, 2). Any order: they are sorted here.
   */
  quorum: readonly SignedShardResult[]
}
export interface PenalizeReturnType extends WriteResult {
  provider: string
  slashed: bigint
}

export class PenalizeError extends ChainError {
  override name = 'PenalizeError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('penalize', failure, options)
  }
}

/**
 * Slashes a provider that signed a result the quorum outvoted. Only the
 * job's coordinator, after settlement, within the dispute window; the
 * Escrow checks every signature itself.
 */
export async function penalize(client: ChainClient, params: PenalizeParameters): Promise<PenalizeReturnType> {
  const jobId = toBytes32(params.jobId)
  if (jobId === undefined) throw invalid(PenalizeError, `jobId must be 32 bytes of hex (got ${params.jobId})`)
  const domain = escrowDomain(client.chainId, client.addresses.escrow)
  // The Escrow wants the quorum sorted by provider address; unknown signers sort last and fail there, on chain.
  const keyed = await Promise.all(
    params.quorum.map(async (signed) => {
      let provider: string | undefined
      try {
        provider = await getProviderOfOperator(client, recoverShardResultSigner(domain, signed))
      } catch {
        provider = undefined
      }
      return { signed, key: provider === undefined ? 2n ** 160n : BigInt(provider) }
    }),
  )
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const asTuple = (r: SignedShardResult) => ({
    shard: r.shard,
    digest: toBytes32(r.digest) ?? r.digest,
    nonce: r.nonce,
    signature: r.signature,
  })
  const result = await writeContract(client, PenalizeError, {
    to: client.addresses.escrow,
    data: escrowInterface.encodeFunctionData('penalize', [
      jobId,
      asTuple(params.accused),
      keyed.map((k) => asTuple(k.signed)),
    ]),
  })
  const event = eventsOf(result.receipt, escrowInterface, client.addresses.escrow, 'Penalized')[0]
  return {
    ...result,
    provider: (event?.args.provider as string | undefined) ?? '',
    slashed: (event?.args.amount as bigint | undefined) ?? 0n,
  }
}
