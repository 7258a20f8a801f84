import { createInterface } from 'node:readline/promises'
import { type JobInput, PaymentError, type QuorateClient, toJobSpecJson } from '@quorate/sdk'
import { formatTokens, tokenDisplayOf } from '../tokens.ts'

export interface ApproveBudgetOptions {
  /** `--max-budget`: the most the job may escrow, base units. */
  maxBudget: bigint | undefined
  /** `--yes`: pay without asking. */
  yes: boolean
  /** Whether a person can be asked: stdin and stderr are a terminal. */
  interactive: boolean
  /** Ask a yes/no question; resolves to the answer. @defaultValue a prompt on stderr */
  ask?: (question: string) => Promise<string>
}

/**
 * Before a paying `submit` sends anything: price the job as the coordinator
 * will, refuse it over `--max-budget`, and have the escrow approved. A person
 * at a terminal is asked (unless `--yes`); without a terminal, the job is paid
 * only with `--yes` or under a `--max-budget`, so a script never pays an
 * amount nobody agreed to. An escrow already funded for the job sends
 * nothing, and is not asked about again.
 *
 * @throws {PaymentError} `limit`: over the cap, declined, or nobody to ask.
 */
export async function approveBudget(
  client: QuorateClient,
  job: JobInput,
  options: ApproveBudgetOptions,
): Promise<void> {
  const payment = await client.estimatePayment(toJobSpecJson(job))
  if (!payment.required) return
  const token = tokenDisplayOf(await client.info())
  const { budget, expected } = payment.quote
  const amount = (value: bigint) => formatTokens(value, token)
  const details = {
    budget: budget.toString(),
    ...(options.maxBudget === undefined ? {} : { maxBudget: options.maxBudget.toString() }),
  }
  if (options.maxBudget !== undefined && budget > options.maxBudget) {
    throw new PaymentError(
      'limit',
      `this job would escrow ${amount(budget)}, more than --max-budget ${amount(options.maxBudget)}`,
      {
        details,
        hint: 'raise --max-budget, or lower the shard count, --max-replicas or --redundancy: the escrow covers every shard × max replicas × the price per replica, plus the fee',
      },
    )
  }
  if (payment.toFund === 0n || options.yes) return
  if (options.interactive) {
    const ask = options.ask ?? askOnTerminal
    const answer = await ask(
      `escrow ${amount(budget)} for this job (${amount(expected)} if every shard agrees at once; the rest is refunded)? [y/N] `,
    )
    if (/^y(es)?$/i.test(answer.trim())) return
    throw new PaymentError('limit', 'not submitted: the escrow was not approved, and nothing was paid', { details })
  }
  if (options.maxBudget !== undefined) return
  throw new PaymentError('limit', `this job would escrow ${amount(budget)}, and there is no terminal to confirm it`, {
    details,
    hint: 'add --yes to pay it, or --max-budget AMOUNT (e.g. 10tokens) to pay up to a cap',
  })
}

async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return await rl.question(question)
  } finally {
    rl.close()
  }
}
