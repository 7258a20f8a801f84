// Which escrow a wallet funds (or reuses) for a job at a coordinator, and how
// it funds it. Escrow ids are derived from (wallet, spec hash, coordinator, n),
// so a wallet finds its own earlier funding again without any local state.
import type { ChainClient, FundJobParameters } from '@quorate/chain'
import { ErrorCode, isQuorateError, type JobSpec, sha256Hex } from '@quorate/protocol'
import { InsufficientBalanceError, PaymentError } from './errors.ts'
import { type JobQuote, type PaymentTerms, sameAddress } from './payment-terms.ts'

/** Most escrows the SDK opens for one job at one coordinator before giving up (each needs the last to be unusable). */
const MAX_FUNDINGS = 8
/** An escrow with less time left than this is not reused, whatever the coordinator's minimum: the job needs time to run. */
const MIN_SECONDS_LEFT = 600
/** Escrow lifetime after the job's own deadline: room for the coordinator to settle. */
const SETTLE_ROOM_SECONDS = 600
/** Escrow lifetime for a job without a deadline: the coordinator's default job deadline (1 h) plus settle room. */
const DEFAULT_ESCROW_SECONDS = 3600 + SETTLE_ROOM_SECONDS

/** An escrow slot for a job: free (fund it) or `existing` (funded with enough budget and time, or settled: reuse it). */
export interface EscrowSlot {
  escrowJobId: string
  salt: string
  now: bigint
  existing?: { budget: bigint; maxFee: bigint }
}

/**
 * The first of the wallet's escrow slots for this job and coordinator that
 * is free or reusable.
 *
 * @throws {PaymentError} problem `fundings` when all {@link MAX_FUNDINGS} are taken and unusable.
 */
export async function findEscrowSlot(
  client: ChainClient,
  terms: PaymentTerms,
  specHash: string,
  budget: bigint,
): Promise<EscrowSlot> {
  const chain = await import('@quorate/chain')
  const submitter = client.account?.address as string
  const now = BigInt((await chainStep(() => client.provider.getBlock('latest')))?.timestamp ?? Date.now() / 1000)
  const leastLeft = BigInt(Math.max(MIN_SECONDS_LEFT, terms.minSecondsLeft))
  for (let n = 0; n < MAX_FUNDINGS; n++) {
    const salt = `0x${sha256Hex(`quorate:sdk:escrow-salt:v1\n${terms.coordinator.toLowerCase()}\n${n}`)}`
    const escrowJobId = chain.computeJobId({
      chainId: terms.chainId,
      escrow: terms.addresses.escrow,
      submitter,
      specHash: `0x${specHash}`,
      salt,
    })
    const job = await chainStep(() => chain.getJob(client, { jobId: escrowJobId }))
    if (job.status === 'none') return { escrowJobId, salt, now }
    const usable =
      sameAddress(job.coordinator, terms.coordinator) &&
      (job.status === 'settled' || (job.status === 'funded' && job.budget >= budget && job.deadline - now >= leastLeft))
    if (usable) return { escrowJobId, salt, now, existing: { budget: job.budget, maxFee: job.maxFee } }
  }
  throw new PaymentError(
    'fundings',
    `this wallet already has ${MAX_FUNDINGS} escrows for job ${specHash.slice(0, 12)} at coordinator ${terms.coordinator}, none usable`,
    { hint: 'reclaim the expired ones (@quorate/chain reclaim), or submit with an explicit payment' },
  )
}

/** The escrow a job is funded with (and its gas estimated for): the same fields both ways. */
export function fundingOf(
  specHash: string,
  spec: JobSpec,
  terms: PaymentTerms,
  quote: JobQuote,
  slot: { now: bigint; salt: string },
): FundJobParameters {
  return {
    specHash,
    coordinator: terms.coordinator,
    budget: quote.budget,
    maxFee: quote.fee,
    deadline: slot.now + BigInt(escrowSeconds(spec.deadline, terms)),
    quorum: spec.quorum,
    salt: slot.salt,
  }
}

/**
 * Escrow lifetime: the job's own deadline (or the coordinator's default one)
 * plus room to settle, and never less than the coordinator wants left at
 * submission plus that room.
 */
function escrowSeconds(deadline: number | undefined, terms: PaymentTerms): number {
  const job =
    deadline === undefined
      ? DEFAULT_ESCROW_SECONDS
      : Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) + SETTLE_ROOM_SECONDS
  return Math.max(job, terms.minSecondsLeft + SETTLE_ROOM_SECONDS)
}

/**
 * Chain failures a wallet can fix become InsufficientBalanceError, other
 * refusals a PaymentError naming the step; an unreachable RPC endpoint
 * (CHAIN_UNREACHABLE) or a chain failure (CHAIN_FAILED) is thrown as it is.
 */
export async function chainStep<T>(fn: () => Promise<T>, address = 'the wallet'): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isQuorateError(err) && (err.name === 'InsufficientBalanceError' || err.name === 'PaymentError')) throw err
    const reason = (err as { reason?: string }).reason
    if (reason === 'INSUFFICIENT_FUNDS' || reason === 'ERC20InsufficientBalance') {
      throw new InsufficientBalanceError(
        {
          address: String((err as { revertArgs?: { sender?: string } }).revertArgs?.sender ?? address),
          asset: reason === 'INSUFFICIENT_FUNDS' ? 'gas' : 'token',
        },
        { cause: err },
      )
    }
    // A refusal the wallet can act on is a payment problem; an unreachable or failing chain keeps its own code.
    if (reason !== undefined && isQuorateError(err) && err.code === ErrorCode.CHAIN_REFUSED) {
      throw new PaymentError('chain-error', (err as Error).message, { cause: err, details: { reason } })
    }
    throw err
  }
}
