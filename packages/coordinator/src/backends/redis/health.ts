import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { BackendHealth } from '../../backend.ts'

export interface RedisHealthOptions {
  /** How often the command connection is asked PING. @defaultValue 1000 */
  probeIntervalMs?: number
  /** A PING unanswered this long marks Redis unreachable (a hung or cut-off server keeps its socket open). @defaultValue 2000 */
  probeTimeoutMs?: number
  /** What the API tells clients to wait before trying again. @defaultValue 2000 */
  retryAfterMs?: number
}

/**
 * Whether Redis answers, from the command connection's own events (a
 * killed server closes it at once) and a PING each second (a hung one does
 * not). An outage is logged once when it starts and once when it ends,
 * however many operations fail in between.
 */
export class RedisHealth implements BackendHealth {
  readonly retryAfterMs: number
  readonly #logger: Logger | undefined
  readonly #now: () => number
  readonly #probeIntervalMs: number
  readonly #probeTimeoutMs: number
  readonly #listeners = new Set<(ready: boolean) => void>()
  #ready = false
  #downSince: number | undefined
  #reason = ''
  #timer: NodeJS.Timeout | undefined
  #probing = false
  #stopped = false

  constructor(components: { logger: Logger | undefined; now: () => number }, options: RedisHealthOptions = {}) {
    this.#logger = components.logger
    this.#now = components.now
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000
    this.retryAfterMs = options.retryAfterMs ?? 2000
  }

  get ready(): boolean {
    return this.#ready
  }

  /** Why Redis is unreachable, while it is. */
  get reason(): string {
    return this.#ready ? '' : this.#reason
  }

  onChange(listener: (ready: boolean) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Follow `client`, which answered a first command already. */
  watch(client: Redis): void {
    this.#set(true, '')
    client.on('ready', () => this.#set(true, ''))
    client.on('close', () => this.#set(false, 'connection closed'))
    client.on('reconnecting', () => this.#set(false, 'reconnecting'))
    this.#timer = setInterval(() => void this.#probe(client), this.#probeIntervalMs)
    this.#timer.unref()
  }

  /** Stop following: connections the coordinator closes itself on the way out are no outage. */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#listeners.clear()
  }

  async #probe(client: Redis): Promise<void> {
    // One PING at a time: while Redis is away they wait in the connection's queue.
    if (this.#probing || client.status !== 'ready') return
    this.#probing = true
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#probeTimeoutMs)
    })
    const answer = client.ping().then(
      () => 'ok' as const,
      () => 'failed' as const,
    )
    const first = await Promise.race([answer, late])
    clearTimeout(timer)
    if (first !== 'ok')
      this.#set(false, first === 'late' ? `no answer to PING in ${this.#probeTimeoutMs} ms` : 'PING failed')
    // A slow answer still proves Redis is back.
    if ((await answer) === 'ok' && client.status === 'ready') this.#set(true, '')
    this.#probing = false
  }

  #set(ready: boolean, reason: string): void {
    if (this.#stopped || ready === this.#ready) return
    this.#ready = ready
    if (ready) {
      if (this.#downSince !== undefined) {
        this.#logger?.warn({ outageMs: this.#now() - this.#downSince }, 'Redis is reachable again; resuming')
      }
      this.#downSince = undefined
    } else {
      this.#reason = reason
      this.#downSince = this.#now()
      this.#logger?.error({ reason }, 'Redis is unreachable; the API answers 503 until it is back')
    }
    for (const listener of this.#listeners) listener(ready)
  }
}
