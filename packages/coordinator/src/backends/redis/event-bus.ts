import { randomUUID } from 'node:crypto'
import type { JobEvent } from '@quorate/protocol'
import type { EventBus } from '../../backend.ts'
import { LocalEventBus } from '../shared/local-event-bus.ts'
import type { RunningShards } from '../shared/running-shards.ts'
import { TurnBatch } from '../shared/turn-batch.ts'
import type { RedisContext } from './context.ts'

/** One PUBLISH on the events channel: a turn's events of one coordinator. */
interface EventMessage {
  from: string
  events: JobEvent[]
}

/**
 * Job events over Redis pub/sub, so any coordinator can stream any job.
 * Events of one turn go out as one PUBLISH of a JSON array: a busy
 * coordinator emits several per shard, and a round trip each was a large
 * share of its Redis traffic. This coordinator's own listeners get its
 * events at once, not a round trip later, except `job:done`: another
 * coordinator may announce that, and through Redis it stays behind the
 * job's last `shard:accepted`, which Redis relays in the order it was published.
 */
export class RedisEventBus implements EventBus {
  readonly #ctx: RedisContext
  readonly #running: RunningShards
  readonly #local = new LocalEventBus()
  readonly #origin = randomUUID()
  readonly #outbox = new TurnBatch<JobEvent>((events) => this.#send(events))

  constructor(ctx: RedisContext, running: RunningShards) {
    this.#ctx = ctx
    this.#running = running
  }

  /** Listen on the namespace's channel; a `job:done` from anywhere aborts that job's runs here. */
  async start(): Promise<void> {
    const subscriber = this.#ctx.connection()
    await subscriber.subscribe(this.#ctx.key('events'))
    subscriber.on('message', (_channel, message: string) => {
      const { from, events } = eventMessageOf(message)
      for (const event of events) {
        if (from === this.#origin && deliveredAtOnce(event)) continue
        if (event.type === 'job:done') this.#running.abortJob(event.jobId, `job ${event.state}`)
        this.#local.publish(event)
      }
    })
  }

  publish(event: JobEvent): void {
    this.#outbox.push(event)
    if (deliveredAtOnce(event)) this.#local.publish(event)
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    return this.#local.subscribe(listener)
  }

  /** Send what this coordinator has announced so far (at stop). */
  flush(): void {
    void this.#outbox.flush()
  }

  #send(events: JobEvent[]): void {
    if (!this.#ctx.started) return
    const message: EventMessage = { from: this.#origin, events }
    this.#ctx.client
      .publish(this.#ctx.key('events'), JSON.stringify(message))
      .catch((err) => this.#ctx.reportError(err, 'could not publish job events'))
  }
}

const deliveredAtOnce = (event: JobEvent) => event.type !== 'job:done'

/** Read one message of the events channel; anything malformed is dropped, never thrown in the subscriber. */
function eventMessageOf(message: string): EventMessage {
  try {
    const parsed = JSON.parse(message) as unknown
    const candidate = parsed as Partial<EventMessage> | null
    if (typeof candidate?.from === 'string' && Array.isArray(candidate.events)) return candidate as EventMessage
  } catch {}
  return { from: '', events: [] }
}
