import { describe, expect, it } from 'vitest'
import type { ExecutorCore } from '../src/executor-core.ts'
import type { ReplicaRecord, ShardRun } from '../src/shard-run.ts'
import { newShardRun } from '../src/shard-run.ts'
import { placeBackups, Stragglers } from '../src/stragglers.ts'
import { workFor } from './helpers.ts'

const rule = { factor: 2, minMs: 0, minSamples: 1, window: 4 }

/** A running replica dispatched at `at`, queued at its agent when `queued`. */
function running(id: string, at: number, queued: boolean): ReplicaRecord {
  const r: ReplicaRecord = {
    assignmentId: id,
    slot: 0,
    attempt: 1,
    provider: id,
    operator: undefined,
    region: undefined,
    zone: undefined,
    state: 'running',
    dispatchedAt: at,
    leaseUntil: queued ? Number.POSITIVE_INFINITY : at + 60_000,
  }
  if (queued) r.startLeaseMs = 60_000
  return r
}

/** Only what placeBackups reads of the executor, for one run: the backups it queues are counted. */
function coreWith(run: ShardRun): { core: ExecutorCore; backups: () => number } {
  let backups = 0
  const core = {
    runs: new Set([run]),
    placement: { freshFor: () => 1, addSlots: () => void backups++ },
    emit: () => {},
    schedulePump: () => {},
  } as unknown as ExecutorCore
  return { core, backups: () => backups }
}

describe('stragglers and replicas queued at their agent', () => {
  const shard = () => {
    const run = newShardRun(workFor('job-s', 0, { redundancy: 3, quorum: 2, decide: 'quorum' }), () => {}, undefined)
    run.slots = 2
    return run
  }
  const stragglers = () => {
    const s = new Stragglers(rule)
    s.record(shard(), 100)
    return s
  }

  it('takes no replica still waiting in its agent queue for a straggler, however long since dispatch', () => {
    const run = shard()
    run.replicas.push(running('queued', 0, true))
    const { core, backups } = coreWith(run)
    expect(placeBackups(core, stragglers(), 10_000)).toBe(0)
    expect(backups()).toBe(0)
  })

  it('times a replica that waited from when it started, not from its dispatch', () => {
    const run = shard()
    const late = running('late', 0, false)
    late.startedAt = 9_950
    run.replicas.push(late)
    const { core } = coreWith(run)
    // 50 ms since it started: under 2 × the 100 ms median, though 10 s since dispatch.
    expect(placeBackups(core, stragglers(), 10_000)).toBe(0)
    late.startedAt = 9_000
    expect(placeBackups(core, stragglers(), 10_000)).toBe(1)
  })
})
