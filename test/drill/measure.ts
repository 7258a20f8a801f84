/**
 * What a drill measures around one fault, from the job's replica records
 * (dispatchedAt, slot, state) read just before the fault and at the end:
 * how fast each lost replica was placed again, and how much work was re-run.
 */
import { loadavg } from 'node:os'
import type { JobEvent, JobView, ReplicaView } from '@quorate/protocol'
import { JOB_EVENT_NAMES } from '@quorate/protocol'
import type { JobHandle } from '@quorate/sdk'

/** The moment of a fault: the job as it was just before, and which providers it took out (all, if undefined). */
export interface FaultMark {
  at: number
  before: JobView
  providers?: ReadonlySet<string>
}

export interface FaultFigures {
  /** Replicas running on the faulted processes at the fault that did not finish there. */
  lost: number
  /** Replicas placed after the fault in the slots those lost replicas held. */
  rerun: number
  /**
   * Kill → first re-dispatch of each lost replica's slot, ms; for a lost replica whose shard was
   * decided without it, kill → the coordinator giving it up.
   */
  detectionMs: number[]
  /** Each lost replica: where it ran, how it ended, and how long until its slot was placed again. */
  lostReplicas: Array<{
    shard: number
    slot: number
    state: string
    reason?: string
    givenUpMs?: number
    redispatchMs?: number
  }>
}

/** Record every event of a job's stream (deduplicated: a reconnected stream may send an event again). */
export function recordEvents(handle: JobHandle): { events: JobEvent[]; stop(): void } {
  const events: JobEvent[] = []
  const seen = new Set<string>()
  for (const type of JOB_EVENT_NAMES) {
    handle.on(type, ((data: object) => {
      const event = { type, ...data } as JobEvent
      const key = JSON.stringify(event)
      if (seen.has(key)) return
      seen.add(key)
      events.push(event)
    }) as never)
  }
  return { events, stop: () => handle.close() }
}

/** Lost replicas, their re-runs and detection times, from the view before the fault and the final one. */
export function faultFigures(mark: FaultMark, after: JobView): FaultFigures {
  const final = new Map<string, ReplicaView>()
  for (const shard of after.shardList) for (const r of shard.replicas) final.set(r.assignmentId, r)
  let rerun = 0
  const detectionMs: number[] = []
  const lostReplicas: FaultFigures['lostReplicas'] = []
  for (const shard of mark.before.shardList) {
    const later = after.shardList.find((s) => s.index === shard.index)?.replicas ?? []
    for (const r of shard.replicas) {
      if (r.state !== 'running') continue
      if (mark.providers !== undefined && !mark.providers.has(r.provider)) continue
      const end = final.get(r.assignmentId)
      if (end?.state === 'done') continue
      const again = later.filter((x) => x.slot === r.slot && x.dispatchedAt >= mark.at)
      rerun += again.length
      const first = Math.min(...again.map((x) => x.dispatchedAt))
      const redispatchMs = Number.isFinite(first) ? first - mark.at : undefined
      // A shard decided without the lost replica needs no re-dispatch: then the coordinator acted when it gave the replica up.
      const givenUpMs = end?.finishedAt === undefined ? undefined : end.finishedAt - mark.at
      const detected = redispatchMs ?? givenUpMs
      if (detected !== undefined) detectionMs.push(detected)
      lostReplicas.push({
        shard: shard.index,
        slot: r.slot,
        state: end?.state ?? 'unknown',
        ...(end?.reason === undefined ? {} : { reason: end.reason }),
        ...(givenUpMs === undefined ? {} : { givenUpMs }),
        ...(redispatchMs === undefined ? {} : { redispatchMs }),
      })
    }
  }
  return { lost: lostReplicas.length, rerun, detectionMs, lostReplicas }
}

/** The p-th percentile (0–100) by nearest rank; undefined for no samples. */
export function percentile(samples: number[], p: number): number | undefined {
  if (samples.length === 0) return undefined
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** The job's wall time on the coordinator's clock. */
export function wallMs(view: JobView): number {
  return (view.finishedAt ?? view.updatedAt) - view.createdAt
}

/** The 1-minute load average, to print beside timing figures on a shared machine. */
export function load1(): number {
  return Number((loadavg()[0] ?? 0).toFixed(2))
}
