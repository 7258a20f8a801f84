import type { ChainClient, EscrowDomain, recoverShardResultSigner } from '@quorate/chain'
import type { JobView, ReplicaView } from '@quorate/protocol'
import { ResultVerificationError } from '../errors.ts'
import type { ShardResult } from './verify-results.ts'

export interface VerifySignaturesParameters {
  /** The job as the coordinator describes it (`GET /v1/jobs/:id`): its replicas carry the signatures. */
  job: JobView
  /** The job's shards, already checked by {@link verifyResults} (digests and distinct majorities). */
  shards: readonly ShardResult[]
  /**
   * The Escrow job id the submitter funded (`spec.payment.escrowJobId`). When
   * given, a job view naming another one is rejected; when omitted, the view's
   * `settlement.escrowJobId` is used.
   */
  escrowJobId?: string
}

export interface VerifySignaturesReturnType {
  /** The Escrow job id the signatures were checked against. */
  escrowJobId: string
  /** Accepted shards checked. */
  shards: number
  /** Signatures that recovered to the registered operator of the provider they back. */
  signatures: number
}

export type VerifySignaturesErrorType = ResultVerificationError

/** The provider account an operator signs for, and the PeerId that account registered. */
interface Registration {
  account: string
  peerId: string
}

/**
 * Check, against the chain rather than the coordinator, that every accepted
 * shard of a paid job is backed by signed results. For each provider the
 * coordinator lists in a shard's majority (at least the job's quorum of
 * distinct ones, as {@link verifyResults} checks), one of its replicas must
 * carry an EIP-712 `ShardResult` signature that
 *
 * - is over this job's Escrow id, this shard and the digest the shard was
 *   accepted with, in the domain of the client's chain id and Escrow (exactly
 *   what agents sign with `signShardResult`), and
 * - recovers to an operator address that the on-chain Registry maps to a
 *   registered provider account whose PeerId is that provider.
 *
 * The `signer` the coordinator reports beside a signature is ignored: the
 * signer is recovered. Anything else throws a {@link ResultVerificationError}
 * with check `signatures`, naming the shard and the provider.
 *
 * @example
 * ```ts
 * import { createChainClient } from '@quorate/chain'
 * import { verifyResults, verifySignatures } from '@quorate/sdk'
 * const chain = await createChainClient({ rpcUrl, addresses: { token, registry, escrow } })
 * const job = await client.getJob(id)
 * const shards = verifyResults({ job, results: await client.getResults(id) })
 * await verifySignatures(chain, { job, shards, escrowJobId })
 * ```
 */
export async function verifySignatures(
  chain: ChainClient,
  parameters: VerifySignaturesParameters,
): Promise<VerifySignaturesReturnType> {
  const { job, shards } = parameters
  const { escrowDomain, getProvider, getProviderOfOperator, recoverShardResultSigner } = await import('@quorate/chain')
  const fail = (shard: number | undefined, problem: string, details: Record<string, unknown> = {}) =>
    new ResultVerificationError({
      jobId: job.id,
      ...(shard === undefined ? {} : { shard }),
      check: 'signatures',
      problem,
      details,
    })

  const reported = job.settlement?.escrowJobId
  const escrowJobId = parameters.escrowJobId ?? reported
  if (escrowJobId === undefined) {
    throw fail(undefined, 'the job names no Escrow job id, so no signatures can back its results', {})
  }
  if (reported !== undefined && reported.toLowerCase() !== escrowJobId.toLowerCase()) {
    throw fail(undefined, `the coordinator reports Escrow job ${reported}, but the job was funded as ${escrowJobId}`, {
      reported,
      escrowJobId,
    })
  }
  const chainId = job.settlement?.chainId
  if (chainId !== undefined && BigInt(chainId) !== chain.chainId) {
    throw fail(undefined, `the coordinator settles on chain ${chainId}, the SDK checks chain ${chain.chainId}`, {
      reportedChainId: chainId,
      chainId: Number(chain.chainId),
    })
  }

  const domain = escrowDomain(chain.chainId, chain.addresses.escrow)
  const registrationOf = registrationLookup(chain, getProvider, getProviderOfOperator)

  const context = { escrowJobId, domain, registrationOf, recover: recoverShardResultSigner, fail }
  let checkedShards = 0
  let signatures = 0
  for (const shard of shards) {
    if (shard.state !== 'accepted') continue
    const digest = shard.digest
    const replicas = job.shardList[shard.index]?.replicas ?? []
    if (digest === undefined) throw fail(shard.index, 'accepted without a digest')
    const backed = new Set<string>()
    for (const provider of shard.majority) {
      const signed = replicas.filter((r) => r.provider === provider && r.evidence !== undefined)
      if (signed.length === 0) {
        throw fail(shard.index, `provider ${provider} is in the majority, but no signed result of it is shown`, {
          provider,
        })
      }
      await checkSigned({ ...context, shard: shard.index, digest, provider, signed })
      backed.add(provider)
      signatures++
    }
    if (backed.size < job.quorum) {
      throw fail(shard.index, `${backed.size} registered providers signed the digest, the quorum is ${job.quorum}`, {
        providers: [...backed],
        quorum: job.quorum,
      })
    }
    checkedShards++
  }
  return { escrowJobId, shards: checkedShards, signatures }
}

interface SignedCheck {
  escrowJobId: string
  domain: EscrowDomain
  registrationOf(operator: string): Promise<Registration | undefined>
  recover: typeof recoverShardResultSigner
  fail(shard: number | undefined, problem: string, details?: Record<string, unknown>): ResultVerificationError
  shard: number
  digest: string
  provider: string
  /** The provider's replicas of the shard that carry evidence. */
  signed: ReplicaView[]
}

/** One of the provider's signed results recovers to the registered operator of that very provider. */
async function checkSigned(c: SignedCheck): Promise<void> {
  const { provider, digest } = c
  let problem = ''
  let signer: string | undefined
  for (const replica of c.signed) {
    const evidence = replica.evidence as NonNullable<typeof replica.evidence>
    try {
      signer = c.recover(c.domain, {
        jobId: c.escrowJobId,
        shard: c.shard,
        digest,
        nonce: BigInt(evidence.nonce),
        signature: evidence.signature,
      })
    } catch (err) {
      problem = `the signature of provider ${provider} is malformed (${(err as Error).message.split('\n')[0]})`
      continue
    }
    const registration = await c.registrationOf(signer)
    if (registration === undefined) {
      problem = `the result of provider ${provider} is signed by ${signer}, which is not a registered operator`
    } else if (registration.peerId !== provider) {
      problem = `the result of provider ${provider} is signed by ${signer}, the operator of ${registration.peerId}`
    } else {
      problem = ''
      break
    }
  }
  if (problem !== '') throw c.fail(c.shard, problem, { provider, ...(signer === undefined ? {} : { signer }) })
}

/** The registered provider an operator key signs for; one Registry lookup per operator, however many results it signed. */
function registrationLookup(
  chain: ChainClient,
  getProvider: typeof import('@quorate/chain').getProvider,
  getProviderOfOperator: typeof import('@quorate/chain').getProviderOfOperator,
): (operator: string) => Promise<Registration | undefined> {
  const registrations = new Map<string, Promise<Registration | undefined>>()
  return (operator) => {
    let found = registrations.get(operator)
    if (found === undefined) {
      found = (async () => {
        const account = await getProviderOfOperator(chain, operator)
        if (account === undefined) return undefined
        const info = await getProvider(chain, { provider: account })
        return info.registered ? { account, peerId: info.peerId } : undefined
      })()
      registrations.set(operator, found)
    }
    return found
  }
}
