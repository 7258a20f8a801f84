import type { AgentMessage } from '@quorate/protocol'
import type { AgentClock } from './clock.ts'
import type { CoordinatorLink } from './link.ts'

/**
 * Holds finished results back for up to `lingerMs` while other tasks still run, so several leave
 * in one frame and the coordinator answers them with one batch of work. With nothing else running a
 * result leaves at once, so a lone task never waits.
 */
export class ResultOutbox {
  readonly #held: Array<[CoordinatorLink, AgentMessage]> = []
  readonly #lingerMs: number
  readonly #clock: AgentClock
  #timer: unknown

  constructor(lingerMs: number, clock: AgentClock) {
    this.#lingerMs = lingerMs
    this.#clock = clock
  }

  /** `othersRunning`: tasks still running besides the one this result is for. */
  send(link: CoordinatorLink, message: AgentMessage, othersRunning: number): void {
    this.#held.push([link, message])
    if (othersRunning === 0 || this.#lingerMs === 0) this.flush()
    else this.#timer ??= this.#clock.setTimeout(() => this.flush(), this.#lingerMs)
  }

  flush(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    for (const [link, message] of this.#held.splice(0)) link.send(message)
  }
}
