import { ChainError } from '@quorate/chain'
import { ErrorCode } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { chainStep } from '../src/escrow-slot.ts'

const failing = (reason: string) => () =>
  Promise.reject(new ChainError('fundJob', { reason, args: {}, message: `it failed: ${reason}` }))

describe('chainStep: what a wallet sees of a chain failure', () => {
  it('turns a missing balance into InsufficientBalanceError and another refusal into PaymentError', async () => {
    await expect(chainStep(failing('INSUFFICIENT_FUNDS'), '0xabc')).rejects.toMatchObject({
      name: 'InsufficientBalanceError',
      code: ErrorCode.PAYMENT_REQUIRED,
    })
    await expect(chainStep(failing('DeadlinePassed'))).rejects.toMatchObject({
      name: 'PaymentError',
      code: ErrorCode.PAYMENT_REQUIRED,
      details: { problem: 'chain-error', reason: 'DeadlinePassed' },
    })
  })

  it('keeps an unreachable chain and a chain failure as they are', async () => {
    await expect(chainStep(failing('RPC_UNAVAILABLE'))).rejects.toMatchObject({
      name: 'ChainError',
      code: ErrorCode.CHAIN_UNREACHABLE,
    })
    await expect(chainStep(failing('Panic'))).rejects.toMatchObject({
      name: 'ChainError',
      code: ErrorCode.CHAIN_FAILED,
    })
  })
})
