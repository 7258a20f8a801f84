import type { CoordinatorInfo } from '@quorate/protocol/api'

/** How token amounts read on screen: the payment token's symbol and decimals. */
export interface TokenDisplay {
  symbol: string
  decimals: number
}

/** What a coordinator that does not say shows: an ERC-20's usual 18 decimals and the plain word. */
export const DEFAULT_TOKEN: TokenDisplay = { symbol: 'tokens', decimals: 18 }

/** Fraction digits shown in a cell; the exact amount is in the tooltip. */
const SHOWN_DECIMALS = 4

/** The token display a coordinator's `/v1/info` announces, else the default. */
export function tokenDisplayOf(info: CoordinatorInfo | undefined): TokenDisplay {
  const payment = info?.payment
  const decimals = payment?.tokenDecimals
  const symbol = payment?.tokenSymbol?.trim()
  return {
    symbol: symbol === undefined || symbol === '' ? DEFAULT_TOKEN.symbol : symbol,
    decimals:
      decimals !== undefined && Number.isInteger(decimals) && decimals >= 0 && decimals <= 36
        ? decimals
        : DEFAULT_TOKEN.decimals,
  }
}

export interface FormattedAmount {
  /** For a cell: "1,000 QRT", "0.01 QRT", "≈0.3333 QRT", "<0.0001 QRT". */
  short: string
  /** Every digit: "0.333333333333333333 QRT (333333333333333333 base units)". */
  exact: string
}

/**
 * Token base units (a decimal string from the API) as a person reads them.
 * Undefined when the value is not a non-negative integer string.
 */
export function formatTokens(baseUnits: string, token: TokenDisplay): FormattedAmount | undefined {
  if (!/^\d{1,78}$/.test(baseUnits)) return undefined
  const value = BigInt(baseUnits)
  const scale = 10n ** BigInt(token.decimals)
  const whole = value / scale
  const fraction = (value % scale).toString().padStart(token.decimals, '0')
  const exactFraction = fraction.replace(/0+$/, '')
  const shownFraction = fraction.slice(0, SHOWN_DECIMALS).replace(/0+$/, '')
  const wholeText = whole.toLocaleString('en-US')
  const exact = `${wholeText}${exactFraction === '' ? '' : `.${exactFraction}`} ${token.symbol}`
  const units = `${value.toLocaleString('en-US')} base units`
  let short: string
  if (value > 0n && whole === 0n && shownFraction === '')
    short = `<0.${'0'.repeat(SHOWN_DECIMALS - 1)}1 ${token.symbol}`
  else {
    const rounded = shownFraction.length < exactFraction.length ? '≈' : ''
    short = `${rounded}${wholeText}${shownFraction === '' ? '' : `.${shownFraction}`} ${token.symbol}`
  }
  return { short, exact: `${exact} (${units})` }
}
