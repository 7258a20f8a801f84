import { escrowDomain, verifyShardResult } from '@quorate/chain'
import type { EvidenceRequest, ReplicaView } from '@quorate/protocol'
import type { SettlementContext } from './options.ts'

/** A result as signed by its provider's operator: what a penalty sends to the Escrow. */
interface SignedResult {
  shard: number
  digest: string
  nonce: string
  signature: string
}

/** A provider's signature over its result, as the agent sent it. */
export interface ResultSignature {
  signature: string
  nonce: string
  signer: string
}

/** What agents sign their results for, for a job paid on chain through this Escrow job. */
export function evidenceRequest(ctx: Pick<SettlementContext, 'client'>, escrowJobId: string): EvidenceRequest {
  return {
    escrowJobId,
    chainId: Number(ctx.client.chainId),
    escrow: ctx.client.addresses.escrow,
  }
}

/** Whether a result's signature is by the provider's registered operator, over exactly this result. */
export function isSignedByOperator(
  operator: string | undefined,
  request: EvidenceRequest,
  result: { shard: number; digest: string; evidence: ResultSignature },
): boolean {
  const { shard, digest, evidence } = result
  if (operator === undefined || operator.toLowerCase() !== evidence.signer.toLowerCase()) return false
  if (!/^\d{1,78}$/.test(evidence.nonce)) return false
  return verifyShardResult(
    escrowDomain(request.chainId, request.escrow),
    { jobId: request.escrowJobId, shard, digest, nonce: BigInt(evidence.nonce), signature: evidence.signature },
    operator,
  )
}

/**
 * Keep the evidence against a provider outvoted on a paid job: its own
 * signed result and the majority's. It is sent with `penalize` once the job
 * is settled (the Escrow accepts penalties only then). Returns whether
 * there was enough signed evidence to keep.
 */
export async function keepOffence(
  ctx: SettlementContext,
  peerId: string,
  offence: { jobId: string; shard: number; digest: string; replicas: ReplicaView[] },
  quorum: number,
): Promise<boolean> {
  if ((await ctx.store.row(offence.jobId)) === undefined) return false
  const signed = (r: ReplicaView): SignedResult | undefined =>
    r.evidence === undefined || r.digest === undefined
      ? undefined
      : {
          shard: offence.shard,
          digest: r.digest,
          nonce: r.evidence.nonce,
          signature: r.evidence.signature,
        }
  const accused = offence.replicas.find((r) => r.provider === peerId && r.digest !== offence.digest)
  const accusedSigned = accused === undefined ? undefined : signed(accused)
  const majority = offence.replicas
    .filter((r) => r.digest === offence.digest && r.provider !== peerId)
    .map(signed)
    .filter((r) => r !== undefined)
  if (accusedSigned === undefined || majority.length < Math.max(2, quorum)) {
    ctx.log.warn(
      { jobId: offence.jobId, shard: offence.shard, peerId, signedMajority: majority.length },
      'outvoted provider cannot be penalized on chain: not enough signed evidence',
    )
    return false
  }
  await ctx.store.insertOffence(
    offence.jobId,
    peerId,
    offence.shard,
    JSON.stringify(accusedSigned),
    JSON.stringify(majority),
    Date.now(),
  )
  return true
}
