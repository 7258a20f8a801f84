import type { Logger } from 'pino'
import type { AgentClock } from './clock.ts'
import { AGENT_DEFAULTS } from './constants.ts'
import type { CoordinatorLink } from './link.ts'
import { CoordinatorSession, type SessionContext } from './session.ts'

export interface SlotOptions {
  /** This slot's share of the agent's capacity: the most it announces and runs at once. */
  capacity: number
  /** This slot's share of the agent's prefetch: assignments it holds queued beyond its capacity. */
  prefetch: number
  clock: AgentClock
  logger: Logger
  /** The next coordinator to try, skipping those other slots hold; undefined when none is free. */
  pick(): string | undefined
  open(coordinator: string, signal: AbortSignal): Promise<CoordinatorLink>
  context(share: { capacity: number; prefetch: number }): SessionContext
  welcomed(coordinator: string): void
  /** A dial of `coordinator` failed, or it hung up before welcoming this slot. */
  failed(coordinator: string): void
}

/**
 * One of the agent's connections to a coordinator, holding a fixed share of its capacity. It
 * dials the coordinator `pick` names, and after a failure or a lost link, picks again with
 * backoff, so a coordinator that goes away is replaced by another free one.
 */
export class CoordinatorSlot {
  readonly #options: SlotOptions
  #session: CoordinatorSession | undefined
  #coordinator: string | undefined
  #backoffMs: number = AGENT_DEFAULTS.reconnectInitialMs
  #retry: unknown
  #stopped = false

  constructor(options: SlotOptions) {
    this.#options = options
  }

  /** The coordinator this slot is connected or dialling to. */
  get coordinator(): string | undefined {
    return this.#coordinator
  }

  get session(): CoordinatorSession | undefined {
    return this.#session
  }

  get running(): number {
    return this.#session?.running ?? 0
  }

  async connect(): Promise<void> {
    if (this.#stopped || this.#coordinator !== undefined) return
    const coordinator = this.#options.pick()
    if (coordinator === undefined) {
      this.#retryLater()
      return
    }
    this.#coordinator = coordinator
    const { logger, capacity, prefetch } = this.#options
    let link: CoordinatorLink
    try {
      link = await this.#options.open(coordinator, AbortSignal.timeout(AGENT_DEFAULTS.dialTimeoutMs))
    } catch (err) {
      logger.warn({ error: (err as Error).message, coordinator }, 'cannot reach the coordinator')
      this.#options.failed(coordinator)
      this.#lost()
      return
    }
    if (this.#stopped) {
      await link.close()
      return
    }
    let welcomed = false
    const current = new CoordinatorSession(link, this.#options.context({ capacity, prefetch }), {
      welcomed: () => {
        welcomed = true
        this.#backoffMs = AGENT_DEFAULTS.reconnectInitialMs
        logger.info({ coordinator, capacity, prefetch }, 'connected to the coordinator')
        this.#options.welcomed(coordinator)
      },
      closed: (error) => {
        if (this.#session !== current) return
        this.#session = undefined
        if (this.#stopped) return
        logger.warn({ error: error?.message, coordinator }, 'lost the coordinator; reconnecting')
        if (!welcomed) this.#options.failed(coordinator)
        this.#lost()
      },
    })
    this.#session = current
  }

  /** Stop reconnecting; the caller drains and closes the session. */
  stop(): void {
    this.#stopped = true
    if (this.#retry !== undefined) this.#options.clock.clearTimeout(this.#retry)
    this.#retry = undefined
  }

  #lost(): void {
    this.#coordinator = undefined
    this.#retryLater()
  }

  #retryLater(): void {
    if (this.#stopped || this.#retry !== undefined) return
    this.#retry = this.#options.clock.setTimeout(() => {
      this.#retry = undefined
      void this.connect()
    }, this.#backoffMs)
    this.#backoffMs = Math.min(this.#backoffMs * 2, AGENT_DEFAULTS.reconnectMaxMs)
  }
}

/**
 * Splits `capacity` into `slots` shares that sum to it exactly, each at least one (the first
 * ones get the remainder), so the hellos of all slots together never claim more than the agent has.
 */
export function shareCapacity(capacity: number, slots: number): number[] {
  const count = Math.max(1, Math.min(slots, capacity))
  const base = Math.floor(capacity / count)
  return Array.from({ length: count }, (_, i) => base + (i < capacity % count ? 1 : 0))
}

/**
 * Splits the prefetch depth between `slots` slots as evenly as it goes (the first ones get the
 * remainder; a share may be 0), so together they never hold more queued than the agent allows.
 */
export function sharePrefetch(prefetch: number, slots: number): number[] {
  const base = Math.floor(prefetch / slots)
  return Array.from({ length: slots }, (_, i) => base + (i < prefetch % slots ? 1 : 0))
}
