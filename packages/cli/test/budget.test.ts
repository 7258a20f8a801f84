import type { CoordinatorInfo } from '@quorate/protocol'
import type { JobQuote, PaymentEstimate, QuorateClient } from '@quorate/sdk'
import { describe, expect, it } from 'vitest'
import { approveBudget } from '../src/commands/budget.ts'

// approveBudget alone: the client is a stub that prices every job at `budget` (the paid path with a
// real chain is in test/cli/agent-stake.test.ts), and `ask` stands for the person at the terminal.
const TOKEN = 10n ** 18n
const job = { wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), inputs: ['x'] }

function pricedAt(budget: bigint, toFund = budget): QuorateClient {
  const payment: PaymentEstimate = {
    required: true,
    chainId: 31337,
    token: '0xtoken',
    escrow: '0xescrow',
    coordinator: '0xcoordinator',
    verified: true,
    quote: { budget, expected: budget / 2n, pricePerReplica: TOKEN, fee: TOKEN } as JobQuote,
    toFund,
  }
  const info = { payment: { tokenSymbol: 'QTT', tokenDecimals: 18 } } as unknown as CoordinatorInfo
  return { estimatePayment: async () => payment, info: async () => info } as unknown as QuorateClient
}

function asking(answer: string) {
  const questions: string[] = []
  return {
    questions,
    ask: async (question: string) => {
      questions.push(question)
      return answer
    },
  }
}

describe('approving what a paid job escrows', () => {
  it('asks at a terminal, in tokens, and goes on only on yes', async () => {
    const yes = asking('y')
    await approveBudget(pricedAt(6n * TOKEN), job, {
      maxBudget: undefined,
      yes: false,
      interactive: true,
      ask: yes.ask,
    })
    expect(yes.questions).toEqual([
      'escrow 6 QTT for this job (3 QTT if every shard agrees at once; the rest is refunded)? [y/N] ',
    ])
    const no = asking('')
    await expect(
      approveBudget(pricedAt(6n * TOKEN), job, { maxBudget: undefined, yes: false, interactive: true, ask: no.ask }),
    ).rejects.toThrow('not submitted: the escrow was not approved, and nothing was paid')
  })

  it('refuses over --max-budget without asking, with or without --yes', async () => {
    for (const yes of [false, true]) {
      const person = asking('y')
      const refusal = approveBudget(pricedAt(6n * TOKEN), job, {
        maxBudget: 5n * TOKEN,
        yes,
        interactive: true,
        ask: person.ask,
      })
      await expect(refusal).rejects.toMatchObject({
        code: 'PAYMENT_REQUIRED',
        message: 'this job would escrow 6 QTT, more than --max-budget 5 QTT',
        details: { problem: 'limit', budget: (6n * TOKEN).toString(), maxBudget: (5n * TOKEN).toString() },
      })
      expect(person.questions).toEqual([])
    }
  })

  it('without a terminal, pays only with --yes or under a cap', async () => {
    const options = { maxBudget: undefined, yes: false, interactive: false }
    await expect(approveBudget(pricedAt(6n * TOKEN), job, options)).rejects.toThrow(
      'this job would escrow 6 QTT, and there is no terminal to confirm it',
    )
    await expect(approveBudget(pricedAt(6n * TOKEN), job, { ...options, yes: true })).resolves.toBeUndefined()
    await expect(
      approveBudget(pricedAt(6n * TOKEN), job, { ...options, maxBudget: 6n * TOKEN }),
    ).resolves.toBeUndefined()
  })

  it('asks nothing when an escrow already funded for the job is reused', async () => {
    const person = asking('n')
    await approveBudget(pricedAt(6n * TOKEN, 0n), job, {
      maxBudget: undefined,
      yes: false,
      interactive: true,
      ask: person.ask,
    })
    expect(person.questions).toEqual([])
  })
})
