import { isTerminalJobState, type JobEvent, WAITING_PREFIX } from '@quorate/protocol'
import type { JobHandle } from '@quorate/sdk'

/**
 * Events say what happened, not what a job is waiting for: ask the job view
 * now and then, and print its waiting reason when it changes ("waiting: only
 * 1 provider online, a shard needs 2 agreeing (quorum 2)"), right after submission too.
 */
export function watchWaiting(handle: JobHandle, progress: ProgressPrinter): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const check = async () => {
    const view = await handle.status().catch(() => undefined)
    if (stopped) return
    if (view !== undefined && !isTerminalJobState(view.state)) progress.onWaiting(view.reason)
    timer = setTimeout(check, WAITING_POLL_MS)
  }
  timer = setTimeout(check, 300)
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

const WAITING_POLL_MS = 2_000

/** A progress bar on a terminal, one line per change otherwise. */
export class ProgressPrinter {
  readonly #total: number
  #accepted = 0
  #failed = 0
  #waiting: string | undefined
  readonly #tty = process.stderr.isTTY === true
  constructor(total: number) {
    this.#total = total
  }
  /** The job's waiting reason, if any: printed once per change, on the progress line on a terminal. */
  onWaiting(reason: string | undefined): void {
    const waiting = reason?.startsWith(WAITING_PREFIX) === true ? reason : undefined
    if (waiting === this.#waiting) return
    this.#waiting = waiting
    if (waiting === undefined) return
    if (this.#tty) process.stderr.write(`\r\x1b[K${waiting}`)
    else process.stderr.write(`${waiting}\n`)
  }
  onEvent(event: JobEvent): void {
    if (event.type === 'shard:accepted') this.#accepted++
    else if (event.type === 'shard:failed') this.#failed++
    else if (event.type !== 'shard:escalated') return
    if (this.#tty) {
      const width = 30
      const done = Math.round(((this.#accepted + this.#failed) / this.#total) * width)
      process.stderr.write(
        `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${this.#accepted}/${this.#total} accepted, ${this.#failed} failed`,
      )
    } else if (event.type === 'shard:accepted') {
      process.stderr.write(`shard ${event.shard} accepted (${event.majority.length} agreeing providers)\n`)
    } else if (event.type === 'shard:failed') {
      process.stderr.write(`shard ${event.shard} failed: ${event.reason}\n`)
    } else {
      process.stderr.write(`shard ${event.shard} results disagree: now ${event.replicas} replicas\n`)
    }
  }
  finish(): void {
    if (this.#tty) process.stderr.write('\n')
  }
}
