import { MalformedMessageError } from './errors.ts'

/**
 * Typed, bounded reads of one JSON header received from a peer. Every read
 * names the field it checks (`result.outcome.fuelUsed`), so a refused frame
 * says exactly what was wrong with it; nothing unread is passed on, so a
 * peer's extra keys never reach the scheduler.
 */
export class WireFields {
  readonly path: string
  readonly #object: Record<string, unknown>

  constructor(path: string, value: unknown) {
    this.path = path
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw fieldError(path, 'must be a JSON object', value)
    }
    this.#object = value as Record<string, unknown>
  }

  has(field: string): boolean {
    return this.#object[field] !== undefined
  }

  fail(field: string, problem: string, got?: unknown): never {
    throw fieldError(`${this.path}.${field}`, problem, got)
  }

  string(field: string, bounds: { max: number; pattern?: RegExp; what?: string }): string {
    const value = this.#object[field]
    if (typeof value !== 'string') this.fail(field, 'must be a string', value)
    if (value.length > bounds.max) this.fail(field, `must be at most ${bounds.max} characters (got ${value.length})`)
    if (bounds.pattern !== undefined && !bounds.pattern.test(value)) {
      this.fail(field, `must be ${bounds.what ?? `a string matching ${bounds.pattern}`}`, value)
    }
    return value
  }

  optionalString(field: string, bounds: { max: number; pattern?: RegExp; what?: string }): string | undefined {
    return this.has(field) ? this.string(field, bounds) : undefined
  }

  /** A safe integer in [min, max]: never NaN, never a float, never beyond 2^53. */
  int(field: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
    const value = this.#object[field]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `must be an integer from ${min} to ${max}`, value)
    }
    return value
  }

  /** A finite number in [min, max]. */
  number(field: string, min: number, max: number): number {
    const value = this.#object[field]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(field, `must be a number from ${min} to ${max}`, value)
    }
    return value
  }

  oneOf<const T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.#object[field]
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(field, `must be one of ${allowed.join(', ')}`, value)
    }
    return value as T
  }

  object(field: string): WireFields {
    return new WireFields(`${this.path}.${field}`, this.#object[field])
  }

  /** An array of at most `maxItems` JSON objects, each read with its own checks. */
  objectArray(field: string, maxItems: number): WireFields[] {
    const value = this.#object[field]
    if (!Array.isArray(value)) this.fail(field, 'must be an array of objects', value)
    if (value.length > maxItems) this.fail(field, `must have at most ${maxItems} items (got ${value.length})`)
    return value.map((item, i) => new WireFields(`${this.path}.${field}[${i}]`, item))
  }

  stringArray(field: string, bounds: { maxItems: number; maxChars: number }): string[] {
    const value = this.#object[field]
    if (!Array.isArray(value)) this.fail(field, 'must be an array of strings', value)
    if (value.length > bounds.maxItems)
      this.fail(field, `must have at most ${bounds.maxItems} items (got ${value.length})`)
    value.forEach((item, i) => {
      if (typeof item !== 'string') this.fail(`${field}[${i}]`, 'must be a string', item)
      if (item.length > bounds.maxChars) this.fail(`${field}[${i}]`, `must be at most ${bounds.maxChars} characters`)
    })
    return value as string[]
  }

  stringRecord(field: string, bounds: { maxEntries: number; maxChars: number }): Record<string, string> {
    const value = this.#object[field]
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(field, 'must be an object of string values', value)
    }
    const entries = Object.entries(value)
    if (entries.length > bounds.maxEntries) this.fail(field, `must have at most ${bounds.maxEntries} entries`)
    const out: Record<string, string> = {}
    for (const [key, item] of entries) {
      if (typeof item !== 'string') this.fail(`${field}.${key}`, 'must be a string', item)
      if (key.length > bounds.maxChars || item.length > bounds.maxChars) {
        this.fail(`${field}.${key}`, `must be at most ${bounds.maxChars} characters`)
      }
      out[key] = item
    }
    return out
  }

  /** The raw value, for fields whose shape is checked elsewhere (e.g. an error's details). */
  raw(field: string): unknown {
    return this.#object[field]
  }
}

/** The one way a field problem becomes an error: the field's full path, the problem, what was sent. */
export function fieldError(field: string, problem: string, got?: unknown): MalformedMessageError {
  const shown = got === undefined ? '' : ` (got ${describeValue(got)})`
  return new MalformedMessageError(`${field} ${problem}${shown}`, { details: { field, problem } })
}

/** A short, bounded rendering of a peer's value: never echo a megabyte back into a log. */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return String(value)
}
