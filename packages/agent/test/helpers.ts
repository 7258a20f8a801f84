import type { AgentMessage, AssignMessage, CoordinatorMessage, TaskOutcome } from '@quorate/protocol'
import type { RuntimePool, RuntimeTask, TaskRunResult } from '@quorate/runtime'
import type { AgentClock, CoordinatorLink } from '../src/index.ts'

/** A clock that moves only when the test says, running due timers in time order. */
export function manualClock(start = 0) {
  let now = start
  let nextId = 0
  const timers = new Map<number, { at: number; every?: number; callback: () => void }>()
  const clock: AgentClock & { advance(ms: number): void; pending(): number } = {
    now: () => now,
    setTimeout: (callback, ms) => {
      timers.set(++nextId, { at: now + ms, callback })
      return nextId
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    setInterval: (callback, ms) => {
      timers.set(++nextId, { at: now + ms, every: ms, callback })
      return nextId
    },
    clearInterval: (handle) => void timers.delete(handle as number),
    advance(ms) {
      const end = now + ms
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
        if (due === undefined) break
        const [id, timer] = due
        now = timer.at
        if (timer.every === undefined) timers.delete(id)
        else timer.at += timer.every
        timer.callback()
      }
      now = end
    },
    pending: () => timers.size,
  }
  return clock
}

/** The agent's end of an in-memory link, with the coordinator's end for the test to drive. */
export function memoryLink() {
  const sent: AgentMessage[] = []
  let deliver: ((message: CoordinatorMessage) => void) | undefined
  const closeHandlers: Array<(error?: Error) => void> = []
  let closed = false
  const close = (error?: Error) => {
    if (closed) return
    closed = true
    for (const handler of closeHandlers) handler(error)
  }
  const link: CoordinatorLink = {
    send: (message) => sent.push(message),
    onMessage: (handler) => {
      deliver = handler
    },
    onClose: (handler) => void closeHandlers.push(handler),
    close: async () => close(),
  }
  return {
    link,
    sent,
    /** The coordinator sends a message to the agent. */
    receive: (message: CoordinatorMessage) => deliver?.(message),
    /** The coordinator (or the network) drops the connection. */
    drop: (error?: Error) => close(error),
    get closed() {
      return closed
    },
  }
}

/**
 * A runtime whose tasks finish only when the test releases them, by assignment input; it records
 * the abort of any task it was running.
 */
export function controlledRuntime() {
  const waiting = new Map<string, (result: TaskRunResult) => void>()
  const aborted: string[] = []
  const runtime: RuntimePool = {
    threads: 1,
    running: 0,
    queued: 0,
    run: (task: RuntimeTask, options?: { signal?: AbortSignal }) =>
      new Promise<TaskRunResult>((resolve, reject) => {
        const name = new TextDecoder().decode(task.stdin)
        waiting.set(name, resolve)
        options?.signal?.addEventListener('abort', () => {
          aborted.push(name)
          waiting.delete(name)
          reject(options.signal?.reason)
        })
      }),
    close: async () => {},
  }
  return {
    runtime,
    aborted,
    running: () => [...waiting.keys()],
    /** Finish task `name` with output `output`; resolves after the agent has handled the result. */
    finish: async (name: string, output = name, outcome?: TaskOutcome) => {
      const resolve = waiting.get(name)
      if (resolve === undefined) throw new Error(`task ${name} is not running`)
      waiting.delete(name)
      resolve({
        outcome: outcome ?? { kind: 'ok', output: new TextEncoder().encode(output), fuelUsed: 1 },
        digest: 'd'.repeat(64),
        stderr: new Uint8Array(0),
        durationMs: 0,
      })
      // Let the agent's await chain run to the send.
      for (let i = 0; i < 5; i++) await Promise.resolve()
    },
  }
}

export const MODULE_SHA = 'm'.repeat(64)

/** An assignment whose stdin is `name`, which `controlledRuntime` uses to tell tasks apart. */
export const assign = (name: string, shardIndex = 0): AssignMessage => ({
  type: 'assign',
  assignmentId: name,
  jobId: 'j'.repeat(64),
  shardIndex,
  attempt: 1,
  moduleSha256: MODULE_SHA,
  args: [],
  env: {},
  limits: { fuel: 1000, memoryMiB: 16, timeoutMs: 10_000, outputBytes: 1024, stderrBytes: 1024 },
  seed: '0'.repeat(64),
  input: new TextEncoder().encode(name),
})
