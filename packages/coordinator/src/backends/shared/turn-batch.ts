/**
 * Work that arrives in one turn of the event loop, written together: one
 * transaction, MULTI or PUBLISH for the turn instead of one per item. A
 * round trip or commit per shard was most of a busy coordinator's time.
 * Each `add` resolves once its turn's write has succeeded, or rejects with
 * its error.
 */
export class TurnBatch<T> {
  readonly #write: (items: T[]) => Promise<void> | void
  #items: T[] = []
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  #scheduled = false

  constructor(write: (items: T[]) => Promise<void> | void) {
    this.#write = write
  }

  get size(): number {
    return this.#items.length
  }

  add(item: T): Promise<void> {
    this.push(item)
    return new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Add an item nobody waits for (the write reports its own failures). */
  push(item: T): void {
    this.#items.push(item)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => void this.flush())
    }
  }

  /** Write what is pending now (also at stop, so nothing decided is dropped). */
  async flush(): Promise<void> {
    this.#scheduled = false
    const items = this.#items
    const waiters = this.#waiters
    this.#items = []
    this.#waiters = []
    if (items.length === 0) return
    try {
      await this.#write(items)
    } catch (err) {
      for (const w of waiters) w.reject(err)
      return
    }
    for (const w of waiters) w.resolve()
  }
}
