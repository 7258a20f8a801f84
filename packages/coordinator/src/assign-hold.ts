import { InvalidOptionError } from '@quorate/protocol'
import { heldLimit } from './agent-queue.ts'
import type { ProviderRecord } from './provider-registry.ts'

/**
 * Decides when a provider's freed slots are filled. A provider that still runs others and has
 * only a few slots free is given its next assignments a moment later, together: up to `lingerMs`
 * after the first slot freed, or as soon as half its slots (or all, once nothing runs) are free.
 *
 * Why: an agent answers a batch in one frame and the coordinator refills it in one, so each
 * round trip costs both sides a wake, a read, a write and an encryption whatever it carries. Filled
 * one slot at a time, a small agent's slots drift apart and every replica pays a round trip of
 * its own; held for the rest, they stay together. An idle agent, or one with one slot, is never
 * held, so a lone task waits no longer; the agent holds its results back the same way
 * (`resultLingerMs`).
 */
export class AssignHold {
  readonly #lingerMs: number
  readonly #now: () => number
  readonly #wake: () => void
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY

  /** `wake` is called (once per deadline) when a held provider's hold ends, to fill it then. */
  constructor(lingerMs: number, now: () => number, wake: () => void) {
    if (!(Number.isFinite(lingerMs) && lingerMs >= 0)) {
      throw new InvalidOptionError('assignLingerMs', 'must be a number of milliseconds ≥ 0', lingerMs)
    }
    this.#lingerMs = lingerMs
    this.#now = now
    this.#wake = wake
  }

  /** Whether `provider`'s free slots, which have work waiting for them, are to be filled now. */
  ready(provider: ProviderRecord): boolean {
    const limit = heldLimit(provider)
    const free = limit - provider.running
    if (this.#lingerMs === 0 || provider.running === 0 || free * 2 >= limit) {
      delete provider.holdSince
      return true
    }
    const now = this.#now()
    provider.holdSince ??= now
    const until = provider.holdSince + this.#lingerMs
    if (now >= until) {
      delete provider.holdSince
      return true
    }
    this.#arm(until, now)
    return false
  }

  #arm(at: number, now: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#timerAt = Number.POSITIVE_INFINITY
        this.#wake()
      },
      Math.max(0, at - now),
    )
    this.#timer.unref()
  }
}
