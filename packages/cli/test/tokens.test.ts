import { describe, expect, it } from 'vitest'
import { UsageError } from '../src/output.ts'
import { formatTokens, parseAmount } from '../src/tokens.ts'

const QRT = { symbol: 'QRT', decimals: 18 }
const eighteen = async () => 18

describe('amounts in tokens', () => {
  it('shows base units in tokens, every significant decimal kept', () => {
    expect(formatTokens(6n * 10n ** 18n, QRT)).toBe('6 QRT')
    expect(formatTokens('10000000000000000', QRT)).toBe('0.01 QRT')
    expect(formatTokens(1234567n * 10n ** 17n, QRT)).toBe('123,456.7 QRT')
    expect(formatTokens(1n, QRT)).toBe('0.000000000000000001 QRT')
    expect(formatTokens(0n, QRT)).toBe('0 QRT')
    expect(formatTokens(250n, { symbol: 'WHOLE', decimals: 0 })).toBe('250 WHOLE')
  })

  it('falls back to base units when the decimals are unknown', () => {
    expect(formatTokens(6n * 10n ** 18n, undefined)).toBe('6000000000000000000 base units')
  })

  it('parses digits as base units and Ntokens with the decimals, reading them only when needed', async () => {
    let reads = 0
    const decimals = async () => {
      reads++
      return 18
    }
    expect(await parseAmount('price', '10000000000000000', decimals)).toBe(10n ** 16n)
    expect(reads).toBe(0)
    expect(await parseAmount('price', '0.01tokens', decimals)).toBe(10n ** 16n)
    expect(await parseAmount('stake', '100 tokens', decimals)).toBe(100n * 10n ** 18n)
    expect(await parseAmount('fee', '0', decimals, { allowZero: true })).toBe(0n)
  })

  it('names the flag in every refusal', async () => {
    await expect(parseAmount('price', '1e16', eighteen)).rejects.toThrow(
      new UsageError(
        '--price must be token base units (digits) or a number of tokens like 100tokens or 0.5tokens (got "1e16")',
      ),
    )
    await expect(parseAmount('max-budget', '0', eighteen)).rejects.toThrow(
      new UsageError('--max-budget must be more than 0'),
    )
    await expect(parseAmount('stake', '0.5tokens', async () => 0)).rejects.toThrow(
      new UsageError('--stake has more than 0 decimals (got "0.5tokens")'),
    )
  })
})
