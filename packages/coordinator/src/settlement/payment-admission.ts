import { verifyJobFunding } from '@quorate/chain'
import { type CoordinatorPaymentTerms, ErrorCode, type JobSpec, jobIdOf, QuorateError } from '@quorate/protocol'
import { type CoordinatorChainOptions, chainCall, pricePerReplica, type SettlementContext } from './options.ts'
import type { SettlementRow } from './store.ts'

/**
 * Check a paid job's escrow before the job is accepted, and remember it.
 * Returns the spec with its deadline moved before the escrow's, so
 * settlement lands in time.
 *
 * @throws {QuorateError} `PAYMENT_REQUIRED` naming what is missing.
 */
export async function admitPaidJob(ctx: SettlementContext, spec: JobSpec): Promise<JobSpec> {
  const { client, store, options } = ctx
  const id = jobIdOf(spec)
  const known = await store.row(id)
  const payment = spec.payment
  if (payment === undefined) {
    if (known !== undefined) return withDeadline(options, spec, known)
    throw paymentRequired(
      `this coordinator is paid on chain ${client.chainId}: fund the job in the Escrow ${client.addresses.escrow} for spec hash 0x${id} naming coordinator ${client.account?.address}, then submit it with "payment": { "escrowJobId": … }`,
      { specHash: `0x${id}` },
    )
  }
  if (known !== undefined && known.escrow_job_id === payment.escrowJobId) return withDeadline(options, spec, known)
  const minBudget = requiredBudget(options, spec)
  const check = await chainCall(ctx, 'verifyJobFunding', () =>
    verifyJobFunding(client, {
      jobId: payment.escrowJobId,
      specHash: id,
      minBudget,
      minSecondsLeft: options.minSecondsLeft ?? 120,
    }),
  )
  if (!check.ok) {
    throw paymentRequired(`payment for job ${id} refused: ${check.problems.join('; ')}`, {
      escrowJobId: payment.escrowJobId,
      problems: check.problems,
      requiredBudget: minBudget.toString(),
    })
  }
  await store.insertPending(id, {
    escrowJobId: payment.escrowJobId,
    budget: check.job.budget.toString(),
    maxFee: check.job.maxFee.toString(),
    submitter: check.job.submitter,
    deadlineMs: Number(check.job.deadline) * 1000,
  })
  const row = await store.row(id)
  if (row === undefined) throw new Error(`could not record the payment of job ${id}`)
  return withDeadline(options, spec, row)
}

/** Least budget a job must escrow: every possible replica paid, plus the fee. */
export function requiredBudget(options: CoordinatorChainOptions, spec: JobSpec): bigint {
  return BigInt(spec.inputs.length * spec.maxReplicas) * pricePerReplica(options) + (options.fee ?? 0n)
}

/** The payment token's symbol and decimals, read once at start; clients show amounts in tokens with them. */
export interface TokenDisplay {
  symbol: string
  decimals: number
}

/** What a job must escrow, and where: `GET /v1/info` publishes it so clients can pay without a refusal first. */
export function paymentTerms(
  client: SettlementContext['client'],
  options: CoordinatorChainOptions,
  token: TokenDisplay | undefined,
): CoordinatorPaymentTerms {
  return {
    chainId: Number(client.chainId),
    token: client.addresses.token,
    ...(token === undefined ? {} : { tokenSymbol: token.symbol, tokenDecimals: token.decimals }),
    registry: client.addresses.registry,
    escrow: client.addresses.escrow,
    coordinator: client.account?.address ?? '',
    pricePerReplica: pricePerReplica(options).toString(),
    fee: (options.fee ?? 0n).toString(),
    minSecondsLeft: options.minSecondsLeft ?? 120,
  }
}

function withDeadline(options: CoordinatorChainOptions, spec: JobSpec, row: SettlementRow): JobSpec {
  const latest = row.escrow_deadline - (options.settleMarginMs ?? 60_000)
  return spec.deadline !== undefined && spec.deadline <= latest ? spec : { ...spec, deadline: latest }
}

function paymentRequired(message: string, details: Record<string, unknown>): QuorateError {
  return new QuorateError(ErrorCode.PAYMENT_REQUIRED, message, {
    details,
    hint: 'fund the job with @quorate/chain fundJob and pass its jobId as payment.escrowJobId',
  })
}
