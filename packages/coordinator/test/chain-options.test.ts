import { InvalidOptionError } from '@quorate/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { SchedulerBackend } from '../src/backend.ts'
import { ChainSettler } from '../src/settlement/chain-settler.ts'
import type { CoordinatorChainOptions } from '../src/settlement/options.ts'

const base: CoordinatorChainOptions = {
  rpcUrl: 'http://127.0.0.1:8545',
  addresses: { token: `0x${'1'.repeat(40)}`, registry: `0x${'2'.repeat(40)}`, escrow: `0x${'3'.repeat(40)}` },
  privateKey: `0x${'ab'.repeat(32)}`,
}
// Options are checked in the constructor, before anything touches the backend or the chain.
const settler = (options: Partial<CoordinatorChainOptions>) =>
  new ChainSettler(
    { backend: {} as SchedulerBackend, logger: pino({ level: 'silent' }) },
    { ...base, ...options, dataDir: '/nonexistent' },
  )

describe('coordinator chain options', () => {
  it('accepts a price, or a fee alone', () => {
    expect(() => settler({ pricePerReplica: 1n })).not.toThrow()
    expect(() => settler({ pricePerReplica: 0n, fee: 5n })).not.toThrow()
  })

  it('refuses terms under which no job could ever be paid', () => {
    expect(() => settler({ pricePerReplica: 0n })).toThrow(InvalidOptionError)
    expect(() => settler({ pricePerReplica: 0n, fee: 0n })).toThrow(/cannot both be 0/)
  })

  it('names the bad option', () => {
    expect(() => settler({ rpcUrl: 'ftp://x' })).toThrow(/chain\.rpcUrl/)
    expect(() => settler({ fee: -1n })).toThrow(/chain\.fee/)
  })
})
