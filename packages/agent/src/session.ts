import {
  type AssignMessage,
  type CoordinatorMessage,
  type HelloMessage,
  PROTOCOL_VERSION,
  type WelcomeMessage,
} from '@quorate/protocol'
import type { Logger } from 'pino'
import type { AgentClock } from './clock.ts'
import type { CoordinatorLink } from './link.ts'
import type { ModuleCache } from './module-cache.ts'
import type { ResultOutbox } from './result-outbox.ts'
import { crashedResult, type RunAssignmentContext, runAssignment } from './run-assignment.ts'
import { AGENT_VERSION } from './version.ts'

export interface SessionContext extends RunAssignmentContext {
  capacity: number
  operator: string | undefined
  /** Region and zone announced in hello, so coordinators can spread a shard's replicas. */
  topology: { region?: string; zone?: string }
  modules: ModuleCache
  outbox: ResultOutbox
  clock: AgentClock
  logger: Logger
  /** True once the agent stops taking new work. */
  draining: () => boolean
}

export interface SessionEvents {
  welcomed(message: WelcomeMessage): void
  /** The link closed (not by `close()` on a stopping agent: the caller decides what that means). */
  closed(error: Error | undefined): void
}

/**
 * The task protocol on one connection to a coordinator: hello, then assignments run on the pool
 * and answered, cancels honoured, heartbeats sent at the interval the welcome names.
 */
export class CoordinatorSession {
  readonly #link: CoordinatorLink
  readonly #context: SessionContext
  readonly #events: SessionEvents
  /** Tasks running for this coordinator, by assignment id. */
  readonly #running = new Map<string, AbortController>()
  #heartbeat: unknown
  #closed = false

  constructor(link: CoordinatorLink, context: SessionContext, events: SessionEvents) {
    this.#link = link
    this.#context = context
    this.#events = events
    link.onMessage((message) => this.#onMessage(message))
    link.onClose((error) => {
      this.#end(new Error('coordinator connection lost'))
      events.closed(error)
    })
    const hello: HelloMessage = {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      capacity: context.capacity,
      agentVersion: AGENT_VERSION,
    }
    if (context.operator !== undefined) hello.operator = context.operator
    if (context.topology.region !== undefined) hello.region = context.topology.region
    if (context.topology.zone !== undefined) hello.zone = context.topology.zone
    link.send(hello)
  }

  get running(): number {
    return this.#running.size
  }

  /** Tell the coordinator this agent stops; the assignments named in `handedBack` will not be answered. */
  drain(handedBack: string[]): void {
    this.#link.send({ type: 'drain', handedBack })
  }

  /** Stop every running task and hand them back, for a stopping agent. */
  handBack(reason: string): void {
    if (this.#running.size === 0) return
    this.drain([...this.#running.keys()])
    this.#end(new Error(reason))
  }

  async close(): Promise<void> {
    this.#end(new Error('agent stopping'))
    await this.#link.close()
  }

  /** Running work is worthless once the link is gone: the coordinator reassigns all of it. */
  #end(reason: Error): void {
    if (this.#heartbeat !== undefined) this.#context.clock.clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    for (const controller of this.#running.values()) controller.abort(reason)
    this.#running.clear()
    this.#closed = true
  }

  #onMessage(message: CoordinatorMessage): void {
    switch (message.type) {
      case 'welcome':
        if (this.#heartbeat !== undefined) this.#context.clock.clearInterval(this.#heartbeat)
        this.#heartbeat = this.#context.clock.setInterval(
          () => this.#link.send({ type: 'heartbeat', running: this.#running.size }),
          message.heartbeatMs,
        )
        this.#events.welcomed(message)
        return
      case 'module':
        this.#context.modules.add(message.sha256, message.bytes)
        return
      case 'assign':
        void this.#execute(message)
        return
      case 'cancel':
        this.#running.get(message.assignmentId)?.abort(new Error(message.reason))
        this.#running.delete(message.assignmentId)
        return
      case 'error':
        this.#context.logger.error({ error: message.error }, 'the coordinator reported an error')
        return
    }
  }

  async #execute(task: AssignMessage): Promise<void> {
    const module = this.#context.modules.get(task.moduleSha256)
    if (module === undefined || this.#context.draining() || this.#closed) {
      const reason = module === undefined ? `module ${task.moduleSha256} was never sent` : 'agent is draining'
      this.#link.send(crashedResult(task.assignmentId, reason))
      return
    }
    const controller = new AbortController()
    this.#running.set(task.assignmentId, controller)
    try {
      const result = await runAssignment(this.#context, task, module, controller.signal)
      if (result !== undefined) this.#context.outbox.send(this.#link, result, this.#running.size - 1)
    } finally {
      if (this.#running.get(task.assignmentId) === controller) this.#running.delete(task.assignmentId)
    }
  }
}
