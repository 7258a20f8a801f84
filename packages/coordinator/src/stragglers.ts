import { InvalidOptionError } from '@quorate/protocol'
import type { ExecutorCore } from './executor-core.ts'
import type { ShardRun } from './shard-run.ts'

/** When a running replica counts as a straggler; see `ExecutorOptions.straggler`. */
export interface StragglerRule {
  /** A replica running longer than this many times the job's median recent replica is a straggler. */
  factor: number
  /** ...and longer than this, so short tasks' jitter never calls for a backup. */
  minMs: number
  /** Finished replicas of the job needed before any replica of it can be a straggler. */
  minSamples: number
  /** How many of the job's most recent replica times the median is taken over. */
  window: number
}

/** The most recent replica times of one job, a ring of at most `window`. */
interface RecentTimes {
  times: number[]
  next: number
}

/**
 * Keeps each job's recent replica times, to tell a straggler from a replica
 * that is merely as slow as the job's other replicas (MapReduce's backup
 * tasks). Memory: at most `window` numbers per job running here, forgotten
 * when the job ends.
 */
export class Stragglers {
  readonly #rule: StragglerRule
  readonly #recent = new Map<string, RecentTimes>()

  constructor(rule: StragglerRule) {
    this.#rule = rule
  }

  /**
   * A replica of `run` finished with a counted result after `ms` (dispatch to result, on the injected
   * clock). Only `decide: 'quorum'` jobs are kept: no other job's replica is ever backed up.
   */
  record(run: ShardRun, ms: number): void {
    if ((run.work.spec.decide ?? 'quorum') !== 'quorum') return
    const { jobId } = run.work
    let recent = this.#recent.get(jobId)
    if (recent === undefined) {
      recent = { times: [], next: 0 }
      this.#recent.set(jobId, recent)
    }
    if (recent.times.length < this.#rule.window) recent.times.push(ms)
    else recent.times[recent.next] = ms
    recent.next = (recent.next + 1) % this.#rule.window
  }

  /** How long a replica of `jobId` may run before it is a straggler; undefined while the job has too little history. */
  limitFor(jobId: string): number | undefined {
    const times = this.#recent.get(jobId)?.times
    if (times === undefined || times.length < this.#rule.minSamples) return undefined
    const sorted = [...times].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] as number
    return Math.max(this.#rule.minMs, this.#rule.factor * median)
  }

  forgetJob(jobId: string): void {
    this.#recent.delete(jobId)
  }
}

/**
 * Under `decide: 'quorum'` a shard first gets only the `quorum` replicas a
 * decision needs; its spares (`redundancy − quorum`) are kept for backups. A
 * replica running past its job's straggler limit gets one backup on a fresh
 * provider (placed by the same rules, so never with a provider or operator
 * already on the shard), while the shard has opened fewer than `redundancy`
 * replica slots and stays within `maxReplicas`. A shard gets at most one backup per
 * straggler and no more than its spares over its run; a backup no provider
 * can take now is not placed (it never makes a shard wait). Returns how many
 * backups were queued.
 */
export function placeBackups(core: ExecutorCore, stragglers: Stragglers, now: number): number {
  let placed = 0
  const limits = new Map<string, number | undefined>()
  for (const run of core.runs) {
    if (run.decided || run.recheck !== undefined || (run.work.spec.decide ?? 'quorum') !== 'quorum') continue
    const { jobId } = run.work
    if (!limits.has(jobId)) limits.set(jobId, stragglers.limitFor(jobId))
    const limit = limits.get(jobId)
    if (limit === undefined) continue
    const wanted = backupsWanted(run, limit, now)
    if (wanted <= 0 || core.placement.freshFor(run) === 0) continue
    core.placement.addSlots(run, 1, { backup: true })
    run.backups = (run.backups ?? 0) + 1
    placed++
    core.emit('shard:backup', jobId, run.work.index)
  }
  if (placed > 0) core.schedulePump()
  return placed
}

/**
 * Backups `run` may have now: one per straggler not yet backed up, while the shard has opened fewer
 * than `redundancy` replica slots, and within `maxReplicas`.
 */
function backupsWanted(run: ShardRun, limit: number, now: number): number {
  let running = 0
  let votes = 0
  let straggling = 0
  for (const r of run.replicas) {
    if (r.state === 'done') votes++
    if (r.state !== 'running') continue
    running++
    // One waiting in its agent's queue has not started: it cannot be slow yet.
    if (r.startLeaseMs === undefined && now - (r.startedAt ?? r.dispatchedAt) > limit) straggling++
  }
  const live = running + run.queued
  const { redundancy, maxReplicas } = run.work.spec
  // `run.slots` counts every slot opened (first replicas, escalations, backups): spares placed
  // eagerly or used by a dissent leave nothing to back up with.
  return Math.min(straggling - (run.backups ?? 0), redundancy - run.slots, maxReplicas - votes - live)
}

/** The straggler rule from options over the defaults, checked. */
export function stragglerRule(options: Partial<StragglerRule> = {}, defaults: StragglerRule): StragglerRule {
  const rule = { ...defaults, ...options }
  if (!(rule.factor >= 1)) throw new InvalidOptionError('straggler.factor', 'must be a number ≥ 1', rule.factor)
  if (!(rule.minMs >= 0)) throw new InvalidOptionError('straggler.minMs', 'must be a number ≥ 0', rule.minMs)
  if (!Number.isInteger(rule.window) || rule.window < 1) {
    throw new InvalidOptionError('straggler.window', 'must be an integer ≥ 1', rule.window)
  }
  if (!Number.isInteger(rule.minSamples) || rule.minSamples < 1 || rule.minSamples > rule.window) {
    throw new InvalidOptionError(
      'straggler.minSamples',
      'must be an integer from 1 to straggler.window',
      rule.minSamples,
    )
  }
  return rule
}

/**
 * How many replicas a shard gets before any result: under `decide: 'quorum'` the `quorum` a
 * decision needs (or all `redundancy` when placed eagerly); under `all`, every one.
 */
export function initialReplicas(spec: ShardRun['work']['spec'], eager: boolean): number {
  return (spec.decide ?? 'quorum') === 'quorum' && !eager ? spec.quorum : spec.redundancy
}
