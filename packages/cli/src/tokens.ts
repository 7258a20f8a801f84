import type { CoordinatorInfo } from '@quorate/protocol'
import { UsageError } from './output.ts'

/** How amounts are shown: the token's symbol and decimals, as the chain reports them. */
export interface TokenDisplay {
  symbol: string
  decimals: number
}

/** The coordinator's token, as it publishes it in `GET /v1/info`; undefined when it names none. */
export function tokenDisplayOf(info: CoordinatorInfo): TokenDisplay | undefined {
  const payment = info.payment
  if (payment?.tokenSymbol === undefined || payment.tokenDecimals === undefined) return undefined
  return { symbol: payment.tokenSymbol, decimals: payment.tokenDecimals }
}

/**
 * An amount of token base units as a person reads it: `6 QRT`, `0.01 QRT`,
 * every significant decimal kept (a rounded amount would not add up); in
 * base units when the token's decimals are unknown.
 */
export function formatTokens(amount: bigint | string, token: TokenDisplay | undefined): string {
  const value = typeof amount === 'bigint' ? amount : BigInt(amount)
  if (token === undefined) return `${value} base units`
  const negative = value < 0n
  const abs = negative ? -value : value
  const unit = 10n ** BigInt(token.decimals)
  const whole = abs / unit
  const fraction = token.decimals === 0 ? '' : (abs % unit).toString().padStart(token.decimals, '0').replace(/0+$/, '')
  const digits = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${negative ? '-' : ''}${digits}${fraction === '' ? '' : `.${fraction}`} ${token.symbol}`
}

/**
 * An amount flag: token base units as digits (`10000000000000000`), or a
 * decimal number of whole tokens followed by `tokens` (`0.01tokens`,
 * `100 tokens`), converted with the token's decimals, read only when needed.
 */
export async function parseAmount(
  flag: string,
  raw: string,
  decimals: () => Promise<number>,
  options: { allowZero?: boolean } = {},
): Promise<bigint> {
  const positive = (amount: bigint) => {
    if (amount === 0n && options.allowZero !== true) throw new UsageError(`--${flag} must be more than 0`)
    return amount
  }
  if (/^\d{1,78}$/.test(raw)) return positive(BigInt(raw))
  const match = /^(\d{1,40})(?:\.(\d{1,40}))?\s*tokens?$/i.exec(raw.trim())
  if (match === null) {
    throw new UsageError(
      `--${flag} must be token base units (digits) or a number of tokens like 100tokens or 0.5tokens (got "${raw}")`,
    )
  }
  const places = await decimals()
  const fraction = match[2] ?? ''
  if (fraction.length > places) throw new UsageError(`--${flag} has more than ${places} decimals (got "${raw}")`)
  return positive(BigInt(match[1] as string) * 10n ** BigInt(places) + BigInt(fraction.padEnd(places, '0') || '0'))
}
