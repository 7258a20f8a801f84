import { type JobEvent, type JobSpec, parseJobSpec, type ReplicaView, toBase64 } from '@quorate/protocol'
import type { SchedulerBackend, ShardDecision, ShardHandler, ShardWork } from '../backend.ts'

/** The smallest valid WebAssembly module: the suite never runs it, a backend only stores it. */
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

/** A validated spec with one shard per input (its id is derived from them). */
export function specOf(inputs: readonly string[]): JobSpec {
  return parseJobSpec({
    name: 'compliance',
    module: { wasm: toBase64(EMPTY_MODULE) },
    inputs: inputs.map((s) => toBase64(new TextEncoder().encode(s))),
    redundancy: 1,
  })
}

/** A shard's output in the suite: its input backwards, so a swapped or re-encoded output shows. */
export function outputOf(work: ShardWork): Uint8Array {
  return work.input.slice().reverse()
}

export function replica(provider: string, state: ReplicaView['state'] = 'running'): ReplicaView {
  return { assignmentId: `a-${provider}`, slot: 0, attempt: 1, provider, state, dispatchedAt: 1 }
}

/** An accepted decision for `work` (outcome `ok` unless given), with its output. */
export function accepted(work: ShardWork, outcome = 'ok', digest = `${work.index}`.padStart(64, '0')): ShardDecision {
  return {
    state: 'accepted',
    replicas: [replica('p1', 'done')],
    digest,
    outcome,
    output: outputOf(work),
    majority: ['p1'],
    minority: [],
  }
}

export function failed(reason = 'no majority'): ShardDecision {
  return { state: 'failed', replicas: [], majority: [], minority: [], reason }
}

/** Resolves when `signal` aborts (a run held until the backend takes its shard away). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

/** Poll `check` until it returns true, at most `timeout` ms; the error names `what` was awaited. */
export async function until(
  check: () => boolean | Promise<boolean>,
  { timeout = 15_000, what }: { timeout?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Every event a backend delivers, in order. */
export interface EventLog {
  events: JobEvent[]
  /** The events of one job, optionally of one type. */
  of(jobId: string, type?: JobEvent['type']): JobEvent[]
  /** Resolves once `jobId`'s `job:done` has been heard. */
  done(jobId: string): Promise<JobEvent>
  /**
   * Resolves once every event published before this call has been delivered: a `job:done` of
   * a made-up job goes the way a real one does (on Redis, through the channel, behind the rest).
   */
  drained(backend: SchedulerBackend): Promise<void>
}

export function listen(backend: SchedulerBackend): EventLog {
  const events: JobEvent[] = []
  backend.subscribe((event) => events.push(event))
  const of = (jobId: string, type?: JobEvent['type']) =>
    events.filter((e) => e.jobId === jobId && (type === undefined || e.type === type))
  let markers = 0
  return {
    events,
    of,
    async done(jobId) {
      await until(() => of(jobId, 'job:done').length > 0, { what: `job:done of ${jobId}` })
      return of(jobId, 'job:done')[0] as JobEvent
    },
    async drained(b) {
      const jobId = `drain-marker-${++markers}`
      b.publish({ type: 'job:done', at: Date.now(), jobId, state: 'completed' })
      await until(() => of(jobId).length > 0, { what: 'events published earlier to be delivered' })
    },
  }
}

/** A handler that accepts every shard, and the works it was handed. */
export function acceptAll(): { handler: ShardHandler; handed: ShardWork[] } {
  const handed: ShardWork[] = []
  return {
    handed,
    handler: async (work) => {
      handed.push(work)
      return accepted(work)
    },
  }
}
