import { UsageError } from './output.ts'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration flag in milliseconds: `7d`, `12h`, `30m`, `45s`, `250ms`, or bare milliseconds.
 * `never` (and `0`) is 0, which the options that take it read as "forever".
 */
export function durationFlag(name: string, raw: string): number {
  const text = raw.trim().toLowerCase()
  if (text === 'never') return 0
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text)
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] as number)
  if (!Number.isSafeInteger(Math.round(ms)) || match === null) {
    throw new UsageError(`--${name} must be a duration like 7d, 12h, 30m, 45s or 500ms, or "never" (got "${raw}")`)
  }
  return Math.round(ms)
}
