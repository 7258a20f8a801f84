/**
 * Replicas finished per second over the last ten minutes, for the API's
 * throughput view. Times come from the injected clock.
 */
export class Throughput {
  readonly #completions: number[] = []
  readonly #now: () => number

  constructor(now: () => number) {
    this.#now = now
  }

  /** One replica finished now. */
  record(): void {
    const second = Math.floor(this.#now() / 1000)
    this.#completions.push(second)
    const horizon = second - 600
    let drop = 0
    while (drop < this.#completions.length && (this.#completions[drop] as number) < horizon) drop++
    if (drop > 0) this.#completions.splice(0, drop)
  }

  /** Replicas finished per second over the last `seconds` seconds, oldest first. */
  series(seconds: number): Array<{ at: number; replicas: number }> {
    const now = Math.floor(this.#now() / 1000)
    const buckets = new Map<number, number>()
    for (const t of this.#completions) buckets.set(t, (buckets.get(t) ?? 0) + 1)
    const out: Array<{ at: number; replicas: number }> = []
    for (let s = now - seconds + 1; s <= now; s++) out.push({ at: s * 1000, replicas: buckets.get(s) ?? 0 })
    return out
  }
}
