import type { CoordinatorInfo } from '@quorate/protocol/api'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TOKEN, formatTokens, tokenDisplayOf } from '../src/tokens.ts'

const QRT = { symbol: 'QRT', decimals: 18 }
const short = (units: string, token = QRT) => formatTokens(units, token)?.short

describe('token amounts', () => {
  it('shows base units as tokens, short enough for a cell', () => {
    expect(short('46000000000000000000')).toBe('46 QRT')
    expect(short('100000000000000000000000')).toBe('100,000 QRT')
    expect(short('10000000000000000')).toBe('0.01 QRT')
    expect(short('0')).toBe('0 QRT')
    expect(short('333333333333333333')).toBe('≈0.3333 QRT')
    expect(short('1')).toBe('<0.0001 QRT')
    expect(short('1500000', { symbol: 'USDC', decimals: 6 })).toBe('1.5 USDC')
    expect(short('7', { symbol: 'PTS', decimals: 0 })).toBe('7 PTS')
  })

  it('keeps every digit for the tooltip', () => {
    expect(formatTokens('333333333333333333', QRT)?.exact).toBe(
      '0.333333333333333333 QRT (333,333,333,333,333,333 base units)',
    )
  })

  it('refuses what is not an amount', () => {
    for (const bad of ['', '-1', '1.5', '0x10', '1e18', '9'.repeat(79)]) expect(formatTokens(bad, QRT)).toBeUndefined()
  })

  it("reads the coordinator's token, else 18 decimals and the word tokens", () => {
    const info = (payment?: Partial<NonNullable<CoordinatorInfo['payment']>>): CoordinatorInfo => ({
      peerId: 'p',
      multiaddrs: [],
      version: '0',
      backend: 'embedded',
      ...(payment === undefined ? {} : { payment: payment as NonNullable<CoordinatorInfo['payment']> }),
    })
    expect(tokenDisplayOf(undefined)).toEqual(DEFAULT_TOKEN)
    expect(tokenDisplayOf(info())).toEqual({ symbol: 'tokens', decimals: 18 })
    expect(tokenDisplayOf(info({ tokenSymbol: 'QRT', tokenDecimals: 6 }))).toEqual({ symbol: 'QRT', decimals: 6 })
    expect(tokenDisplayOf(info({ tokenSymbol: ' ', tokenDecimals: 1.5 }))).toEqual(DEFAULT_TOKEN)
  })
})
