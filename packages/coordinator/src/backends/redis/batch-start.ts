import type { Job } from 'bullmq'
import type { ShardWork, StoredSpec } from '../../backend.ts'
import type { RedisContext } from './context.ts'
import type { FreshJob, FreshJobs } from './fresh-jobs.ts'
import type { ShardJobData } from './job-store.ts'

/** Specs and modules never change once stored: caches of this many entries save reading them each run. */
const SPEC_CACHE_SIZE = 256
const MODULE_CACHE_SIZE = 32

/** A batch's shards started here: what to run, under which lock, and what cannot run. */
export interface StartedBatch {
  works: ShardWork[]
  /** The BullMQ lock key of the batch: its shards' progress and decisions are fenced by it. */
  lockKey: string
  /** Shards that cannot be run (their input is gone): the batch fails and is retried. */
  problems: string[]
  /**
   * Set when the shards were started from what this coordinator just stored, before Redis confirmed
   * the runs: resolves to `ok` when every shard's run is the one assumed, `skip` when the batch is
   * not to run (its job ended), `retry` otherwise (the runs go, and the batch is taken again).
   */
  confirmed?: Promise<BatchCheck>
}

export type BatchCheck = 'ok' | 'skip' | 'retry'

/** A batch taken from the queue, as `start` reads it: its shards, their keys and its lock. */
interface FreshBatch {
  jobId: string
  first: number
  count: number
  keys: string[]
  lockKey: string
}

/** A job's shards start with no runs: the first take of a fresh batch starts run 1 of each. */
const FIRST_RUN = 1

/**
 * Starts a run of each shard of a batch taken from the queue (`startBatch-n`,
 * one round trip) and turns the reply into `ShardWork`s.
 */
export class BatchStarter {
  readonly #ctx: RedisContext
  readonly #specs = new Map<string, StoredSpec>()
  readonly #modules = new Map<string, Promise<Buffer | null>>()
  // The lock of the batch each running shard belongs to.
  readonly #lockKeys = new WeakMap<ShardWork, string>()
  readonly #confirmations = new WeakMap<ShardWork, Promise<BatchCheck>>()

  readonly #fresh: FreshJobs

  constructor(ctx: RedisContext, fresh: FreshJobs) {
    this.#ctx = ctx
    this.#fresh = fresh
  }

  /** The lock key a shard handed out here is fenced by; undefined for a shard not handed out here. */
  lockKeyOf(work: ShardWork): string | undefined {
    return this.#lockKeys.get(work)
  }

  /** Start the batch's shards; undefined when its job has ended or the batch is not the job's (skip it). */
  async start(bullJob: Job<ShardJobData>, fence: string): Promise<StartedBatch | undefined> {
    const { jobId, index: first } = bullJob.data
    const count = bullJob.data.count ?? 1
    const { key } = this.#ctx
    const keys = [key('job', jobId)]
    for (let index = first; index < first + count; index++)
      keys.push(key('shard', jobId, index), key('input', jobId, index))
    // BullMQ's lock of this batch: what every write of its shards is fenced by.
    const lockKey = `${this.#ctx.prefix}:shards:${bullJob.id}:lock`
    const fresh = this.#fresh.take(jobId, first, count)
    if (fresh !== undefined) return this.#startFresh({ jobId, first, count, keys, lockKey }, fence, fresh)
    const cached = this.#specs.get(jobId)
    const args = [cached === undefined ? '1' : '0', first, count]
    const started = (await this.#ctx.run('startBatch-n', keys, args, true)) as Buffer[]
    const status = started[0]?.toString()
    if (status === 'ended' || status === 'stray') return undefined
    const spec = cached ?? this.#remember(jobId, JSON.parse((started[2] as Buffer).toString()) as StoredSpec)
    const deadline = Number((started[1] as Buffer).toString())
    const works: ShardWork[] = []
    const problems: string[] = []
    for (let k = 0; k < count; k++) {
      const status = (started[3 + 3 * k] as Buffer).toString()
      if (status === 'lost') problems.push(`shard ${jobId}:${first + k} has lost its input`)
      if (status !== 'run') continue
      works.push({
        jobId,
        index: first + k,
        input: new Uint8Array(started[5 + 3 * k] as Buffer),
        spec,
        module: { sha256: spec.moduleSha256, bytes: new Uint8Array(0) },
        deadline,
        run: Number((started[4 + 3 * k] as Buffer).toString()),
        fence,
      })
    }
    if (works.length > 0) {
      const moduleBytes = await this.#moduleOf(spec.moduleSha256)
      if (moduleBytes === null) throw new Error(`job ${jobId} has lost its module`)
      const bytes = new Uint8Array(moduleBytes)
      for (const work of works) {
        work.module.bytes = bytes
        this.#lockKeys.set(work, lockKey)
      }
    }
    return { works, lockKey, problems }
  }

  /**
   * A batch of a job this coordinator has just created: its shards start at once, from what was
   * stored, while `startBatch-n` counts their runs. The script leaves first on the command
   * connection, so Redis counts the runs before any progress or decision of theirs arrives; both wait
   * for its answer anyway, and are fenced by run and lock as ever.
   */
  #startFresh(batch: FreshBatch, fence: string, fresh: FreshJob): StartedBatch {
    const { jobId, first, count, keys, lockKey } = batch
    const confirmed = (this.#ctx.run('startBatch-n', keys, ['0', first, count], true) as Promise<Buffer[]>).then(
      (started) => checkOf(started, count),
    )
    const works: ShardWork[] = []
    for (let k = 0; k < count; k++) {
      const work: ShardWork = {
        jobId,
        index: first + k,
        input: fresh.inputs[first + k] as Uint8Array,
        spec: fresh.spec,
        module: { sha256: fresh.spec.moduleSha256, bytes: fresh.module },
        deadline: fresh.deadline,
        run: FIRST_RUN,
        fence,
      }
      this.#lockKeys.set(work, lockKey)
      this.#confirmations.set(work, confirmed)
      works.push(work)
    }
    return { works, lockKey, problems: [], confirmed }
  }

  /** For a shard started before Redis confirmed its run: that confirmation. */
  confirmationOf(work: ShardWork): Promise<BatchCheck> | undefined {
    return this.#confirmations.get(work)
  }

  #remember(jobId: string, spec: StoredSpec): StoredSpec {
    this.#specs.set(jobId, spec)
    if (this.#specs.size > SPEC_CACHE_SIZE) this.#specs.delete(this.#specs.keys().next().value as string)
    return spec
  }

  // Modules are immutable (named by their hash), so one read per coordinator is enough.
  #moduleOf(sha: string): Promise<Buffer | null> {
    let bytes = this.#modules.get(sha)
    if (bytes === undefined) {
      bytes = this.#ctx.client.getBuffer(this.#ctx.key('module', sha))
      this.#modules.set(sha, bytes)
      void bytes.then((b) => {
        if (b === null) this.#modules.delete(sha)
      })
      if (this.#modules.size > MODULE_CACHE_SIZE) this.#modules.delete(this.#modules.keys().next().value as string)
    }
    return bytes
  }
}

/** Whether `startBatch-n`'s reply is what a fresh batch's shards were started on: run 1 of each. */
function checkOf(started: Buffer[], count: number): BatchCheck {
  const status = started[0]?.toString()
  if (status === 'ended' || status === 'stray') return 'skip'
  for (let k = 0; k < count; k++) {
    if ((started[3 + 3 * k] as Buffer).toString() !== 'run') return 'retry'
    if (Number((started[4 + 3 * k] as Buffer).toString()) !== FIRST_RUN) return 'retry'
  }
  return 'ok'
}
