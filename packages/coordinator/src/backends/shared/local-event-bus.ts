import { EventEmitter } from 'node:events'
import type { JobEvent } from '@quorate/protocol'
import type { EventBus } from '../../backend.ts'

/** Job events within this process: the embedded backend's bus, and where the Redis bus delivers. */
export class LocalEventBus implements EventBus {
  readonly #emitter = new EventEmitter<{ event: [JobEvent] }>()

  constructor() {
    // Every open event stream of the HTTP API is a listener.
    this.#emitter.setMaxListeners(0)
  }

  publish(event: JobEvent): void {
    this.#emitter.emit('event', event)
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.#emitter.on('event', listener)
    return () => this.#emitter.off('event', listener)
  }
}
