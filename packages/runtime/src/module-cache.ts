/**
 * The pool's cache of prepared, compiled modules, keyed by sha256: every task
 * of a job (and every job reusing a module) compiles it once per process.
 */
import { sha256Hex } from '@quorate/protocol'
import type { Compiled } from './types.ts'

/** Prepared, compiled modules by sha256, least recently used evicted first. */
export class ModuleCache {
  readonly #size: number
  readonly #prepare: (bytes: Uint8Array) => Promise<Compiled>
  readonly #entries = new Map<string, Promise<Compiled | { crashed: string }>>()

  constructor(size: number, prepare: (bytes: Uint8Array) => Promise<Compiled>) {
    this.#size = size
    this.#prepare = prepare
  }

  /** Never rejects: a queued task may not look at its entry for a while. */
  get(module: { sha256: string; bytes: Uint8Array }): Promise<Compiled | { crashed: string }> {
    const hit = this.#entries.get(module.sha256)
    if (hit !== undefined) {
      this.#entries.delete(module.sha256)
      this.#entries.set(module.sha256, hit)
      return hit
    }
    // Checked on a miss only, so a wrong sha256 can never poison the cache for the right one.
    if (sha256Hex(module.bytes) !== module.sha256) {
      return Promise.resolve({ ok: false, reason: 'module bytes do not match their sha256' })
    }
    // A thread terminated under an earlier task takes the preparation queued behind it along: try again.
    const attempt = (retries: number): Promise<Compiled | { crashed: string }> =>
      this.#prepare(module.bytes).catch((err: unknown) => {
        if (retries > 0) return attempt(retries - 1)
        // Still failing: a fact about this host, not the module, so not cached.
        this.#entries.delete(module.sha256)
        return { crashed: `preparing the module failed: ${err instanceof Error ? err.message : String(err)}` }
      })
    const entry = attempt(2)
    this.#entries.set(module.sha256, entry)
    if (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return entry
  }
}
