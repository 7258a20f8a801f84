/**
 * A byte budget shared by many channels: the bytes a coordinator holds for
 * peers it has not welcomed yet. Each such channel takes from it what it
 * buffers and gives it back once welcomed or closed, so a flood of silent
 * connections is bounded in total, not only one by one.
 */
export class ByteBudget {
  readonly limit: number
  #used = 0

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`byte budget limit must be a positive integer (got ${limit})`)
    }
    this.limit = limit
  }

  get used(): number {
    return this.#used
  }

  /** Take `bytes` if they fit; false (and nothing taken) if they do not. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false
    this.#used += bytes
    return true
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes)
  }
}
