import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError } from './output.ts'
import { closest } from './suggest.ts'

export type Options = NonNullable<ParseArgsConfig['options']>

/** Parse flags strictly; unknown flags are usage errors that name the flag. */
export function parse<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    const message = (err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '')
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message)?.[1]
    const guess = unknown === undefined ? undefined : closest(unknown, Object.keys(options))
    throw new UsageError(guess === undefined ? message : `unknown option --${unknown}; did you mean --${guess}?`)
  }
}

/** An integer flag, with the flag named in the error. */
export function intFlag(name: string, raw: string | undefined, fallback: number, min?: number): number
export function intFlag(name: string, raw: string | undefined, fallback: undefined, min?: number): number | undefined
export function intFlag(
  name: string,
  raw: string | undefined,
  fallback: number | undefined,
  min = 1,
): number | undefined {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min} (got "${raw}")`)
  return value
}

/** Flag, then QUORATE_* environment variable (empty counts as unset, as `VAR=` clears one), then default. */
export function fromEnv(flag: string | undefined, envName: string, fallback: string): string
export function fromEnv(flag: string | undefined, envName: string, fallback?: string): string | undefined
export function fromEnv(flag: string | undefined, envName: string, fallback?: string): string | undefined {
  const fromEnvironment = process.env[envName]
  return flag ?? (fromEnvironment === '' ? undefined : fromEnvironment) ?? fallback
}

export const DEFAULT_COORDINATOR_URL = 'http://127.0.0.1:7700'

/**
 * An http(s) URL from a flag, variable or config entry. A bare `host:port` is
 * the common slip: it gets "did you mean http://host:port" instead of the
 * fetch layer's "Invalid URL" (or, for `localhost:7700`, a URL whose scheme
 * is "localhost:").
 */
export function httpUrl(flag: string, raw: string, schemes: readonly string[] = ['http:', 'https:']): string {
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  if (url !== undefined && schemes.includes(url.protocol)) return raw
  const guess = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? undefined : `http://${raw}`
  throw new UsageError(
    `${flag} "${raw}" is not ${schemes.includes('ws:') ? 'an http(s) or ws(s)' : 'an http(s)'} URL${guess === undefined ? '' : `; did you mean ${guess}?`}`,
  )
}
