import { EventEmitter } from 'node:events'
import {
  ErrorCode,
  FULL_VIEW_MAX_SHARDS,
  InvalidOptionError,
  isJobEventName,
  isTerminalJobState,
  JOB_EVENT_NAMES,
  type JobEvent,
  type JobEventMap,
  type JobEventName,
  type JobResultsPage,
  type JobView,
  type JobViewPage,
  SHARD_PAGE_MAX_LIMIT,
} from '@quorate/protocol'
import { type ShardResult, verifyResults } from './actions/verify-results.ts'
import { verifyResultsPage } from './actions/verify-results-page.ts'
import type { verifySignatures } from './actions/verify-signatures.ts'
import type { QuorateClient } from './client.ts'
import { WaitTimeoutError } from './errors.ts'
import type { JobFunding } from './payment-terms.ts'
import { readEventStream } from './sse.ts'

type HandleEvents = { [K in keyof JobEventMap]: [JobEventMap[K] & { at: number }] } & {
  error: [Error]
  newListener: [eventName: string | symbol, listener: unknown]
}

/** What a handle holds the coordinator to; `submitJob` fills it from the spec. */
export interface JobHandleOptions {
  /** The quorum the job was submitted with; `results()` rejects a job view that claims less. */
  expectedQuorum?: number
  /**
   * The Escrow job id a paid job was funded as (`spec.payment.escrowJobId`).
   * With it, and a client with `chain` settings, `results()` checks the
   * signatures even if the job view hides that the job is paid.
   */
  escrowJobId?: string
  /** How the client's wallet paid for the job; `submitJob` sets it when it funded (or reused) an escrow. */
  funding?: JobFunding
}

export interface WaitOptions {
  signal?: AbortSignal
  /** Give up after this many ms with a WaitTimeoutError. */
  timeout?: number
}

export interface ResultsIteratorOptions extends WaitOptions {
  /** Shards read (and verified) per request, 1 to 1000. @defaultValue 1000 */
  pageSize?: number
}

/**
 * A submitted job. Emits the job's events (`shard:dispatched`,
 * `shard:accepted`, `shard:failed`, `job:done`, …) once anything listens, and
 * is an async iterator of them.
 *
 * @example
 * ```ts
 * const job = await client.submitJob({ wasm, inputs: ranges(1, 100_000, 4) })
 * for await (const event of job) if (event.type === 'shard:accepted') console.log('shard', event.shard)
 * const shards = await job.results({ timeout: 60_000 }) // verified: throws ResultVerificationError otherwise
 * ```
 */
export class JobHandle extends EventEmitter<HandleEvents> {
  readonly id: string
  /**
   * How the client's wallet paid for this job, when `submitJob` did: the
   * escrow id, the budget, and the transactions (none when an earlier
   * funding was reused). Undefined for free jobs, and for jobs the
   * coordinator already had on record.
   */
  readonly funding: JobFunding | undefined
  readonly #client: QuorateClient
  readonly #expectedQuorum: number | undefined
  readonly #escrowJobId: string | undefined
  #streaming: AbortController | undefined
  /** The event types the open stream carries: those listened to, and always `job:done`, which ends it. */
  #streamTypes: Set<JobEventName> | undefined
  #streamScheduled = false

  /** @param options - what the job was submitted with; see {@link JobHandleOptions}. `submitJob` sets it. */
  constructor(client: QuorateClient, id: string, options: JobHandleOptions = {}) {
    super()
    this.id = id
    this.#client = client
    this.#expectedQuorum = options.expectedQuorum
    this.#escrowJobId = options.escrowJobId ?? options.funding?.escrowJobId
    this.funding = options.funding
    this.on('newListener', (name) => {
      if (typeof name !== 'string' || !isJobEventName(name) || this.#streamTypes?.has(name)) return
      // Listeners added in one turn (as the iterator does) open one stream; a type added later reopens it.
      if (this.#streamScheduled) return
      this.#streamScheduled = true
      queueMicrotask(() => {
        this.#streamScheduled = false
        this.#startStream()
      })
    })
  }

  /**
   * Current state of the job, shards and replicas. A job above `FULL_VIEW_MAX_SHARDS` shards has
   * no whole view: its `shardList` holds the first page (a {@link JobViewPage}, see `nextCursor`).
   */
  async status(): Promise<JobView> {
    try {
      return await this.#client.getJob(this.id)
    } catch (err) {
      if ((err as { code?: string }).code !== ErrorCode.VIEW_TOO_LARGE) throw err
      return this.#client.getJobPage(this.id, { limit: SHARD_PAGE_MAX_LIMIT })
    }
  }

  cancel(): Promise<{ id: string; state: string }> {
    return this.#client.cancelJob(this.id)
  }

  /** Stop listening to the job's event stream. */
  close(): void {
    this.#streaming?.abort()
    this.#streaming = undefined
    this.#streamTypes = undefined
  }

  /** Wait until the job reaches a terminal state (completed, partially_failed, failed, cancelled, expired). */
  async waitFor(options: WaitOptions = {}): Promise<JobView> {
    const started = Date.now()
    const signals = [options.signal].filter((s): s is AbortSignal => s !== undefined)
    const done = new AbortController()
    const signal = AbortSignal.any([...signals, done.signal])
    // Events make waiting prompt; polling makes it robust to a dropped stream.
    const wake = Promise.withResolvers<void>()
    const onDone = () => wake.resolve()
    this.on('job:done', onDone)
    try {
      for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
        options.signal?.throwIfAborted()
        // Poll the summary (no shard list): cheap whatever the job's size.
        const summary = await this.#client.request<{ state: JobView['state'] }>(
          'GET',
          `/v1/jobs/${encodeURIComponent(this.id)}?view=summary`,
        )
        if (isTerminalJobState(summary.state)) return this.status()
        if (options.timeout !== undefined && Date.now() - started > options.timeout) {
          throw new WaitTimeoutError(this.id, options.timeout)
        }
        await Promise.race([wake.promise, sleep(delay, signal)])
      }
    } finally {
      this.off('job:done', onDone)
      done.abort()
      // The stream may still carry events other listeners are waiting for.
      if (JOB_EVENT_NAMES.every((type) => this.listenerCount(type) === 0)) this.close()
    }
  }

  /**
   * Wait for the job to finish and return every shard's result, in shard
   * order, checked by {@link verifyResults}: outputs against their digests,
   * accepted shards against the job's quorum of distinct providers. For a paid
   * job (submitted with an `escrowJobId`, or whose view shows a settlement),
   * when the client was created with `chain` settings, also checked by
   * {@link verifySignatures}: every majority provider of each accepted shard
   * signed its digest with the operator key the on-chain Registry holds for
   * it. Without `chain` settings signatures are not checked. A result that
   * does not check out throws a `ResultVerificationError`
   * (code `RESULT_VERIFICATION`) naming the shard and the check. A job above
   * `FULL_VIEW_MAX_SHARDS` shards is read and checked in pages, as {@link resultsIterator} does;
   * for such a job prefer the iterator, which holds one page at a time.
   */
  async results(options: WaitOptions = {}): Promise<ShardResult[]> {
    const finished = await this.waitFor(options)
    // A coordinator that refused the whole view (status() then gave a page) serves the results in pages too.
    if (finished.shards.total > FULL_VIEW_MAX_SHARDS || 'nextCursor' in finished) {
      const all: ShardResult[] = []
      for await (const shard of this.#pages(options.signal)) all.push(shard)
      return all
    }
    const [job, results] = await Promise.all([this.status(), this.#client.getResults(this.id)])
    const shards = verifyResults({
      job,
      results,
      ...(this.#expectedQuorum === undefined ? {} : { expectedQuorum: this.#expectedQuorum }),
    })
    await this.#verifySignatures(job, shards)
    return shards
  }

  /**
   * Wait for the job to finish and yield every shard's result in shard order, a page at a time:
   * memory holds one page, whatever the job's size. Each page is checked as {@link results} checks
   * the whole job (see {@link verifyResultsPage}), and for a paid job its signatures, before any
   * of it is yielded.
   *
   * @example
   * ```ts
   * for await (const shard of job.resultsIterator({ timeout: 600_000 })) await sink.write(shard.output)
   * ```
   */
  async *resultsIterator(options: ResultsIteratorOptions = {}): AsyncGenerator<ShardResult> {
    const pageSize = options.pageSize ?? SHARD_PAGE_MAX_LIMIT
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > SHARD_PAGE_MAX_LIMIT) {
      throw new InvalidOptionError('pageSize', `must be an integer from 1 to ${SHARD_PAGE_MAX_LIMIT}`, pageSize)
    }
    await this.waitFor(options)
    yield* this.#pages(options.signal, pageSize)
  }

  async *#pages(signal: AbortSignal | undefined, limit = SHARD_PAGE_MAX_LIMIT): AsyncGenerator<ShardResult> {
    for (let cursor: number | null = -1; cursor !== null; ) {
      signal?.throwIfAborted()
      const [job, results]: [JobViewPage, JobResultsPage] = await Promise.all([
        this.#client.getJobPage(this.id, { cursor, limit }),
        this.#client.getResultsPage(this.id, { cursor, limit }),
      ])
      const shards = verifyResultsPage({
        job,
        results,
        cursor,
        ...(this.#expectedQuorum === undefined ? {} : { expectedQuorum: this.#expectedQuorum }),
      })
      await this.#verifySignatures(pageAsView(job), shards)
      yield* shards
      cursor = results.nextCursor
    }
  }

  async #verifySignatures(job: JobView, shards: ShardResult[]): Promise<void> {
    const paid = this.#escrowJobId !== undefined || job.settlement?.escrowJobId !== undefined
    if (!this.#client.verifiesSignatures || !paid) return
    await this.#client.verifySignatures({
      job,
      shards,
      ...(this.#escrowJobId === undefined ? {} : { escrowJobId: this.#escrowJobId }),
    })
  }

  /** Iterate over the job's events until it finishes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<JobEvent> {
    const queue: JobEvent[] = []
    let wake = Promise.withResolvers<void>()
    let finished = false
    const listeners = JOB_EVENT_NAMES.map((type) => {
      const listener = (data: object) => {
        queue.push({ type, ...data } as JobEvent)
        if (type === 'job:done') finished = true
        wake.resolve()
      }
      this.on(type, listener as never)
      return [type, listener] as const
    })
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as JobEvent
        if (finished) return
        await wake.promise
        wake = Promise.withResolvers<void>()
      }
    } finally {
      for (const [type, listener] of listeners) this.off(type, listener as never)
    }
  }

  #startStream(): void {
    const types = new Set<JobEventName>(JOB_EVENT_NAMES.filter((type) => this.listenerCount(type) > 0))
    if (types.size === 0) return
    types.add('job:done')
    const open = this.#streamTypes
    if (open !== undefined && [...types].every((type) => open.has(type))) return
    this.#streaming?.abort()
    const controller = new AbortController()
    this.#streaming = controller
    this.#streamTypes = types
    const path = `/v1/jobs/${encodeURIComponent(this.id)}/events?types=${[...types].join(',')}`
    void (async () => {
      let attempt = 0
      while (!controller.signal.aborted) {
        try {
          const res = await this.#client.stream(path, controller.signal)
          attempt = 0
          for await (const message of readEventStream(res.body as ReadableStream<Uint8Array>)) {
            const event = JSON.parse(message.data) as JobEvent
            this.emit(event.type, event as never)
            if (event.type === 'job:done') {
              controller.abort()
              return
            }
          }
        } catch (err) {
          if (controller.signal.aborted) return
          if (this.listenerCount('error') > 0 && attempt > 3) this.emit('error', err as Error)
        }
        await sleep(Math.min(100 * 2 ** attempt++, 2000), controller.signal).catch(() => {})
      }
    })()
  }
}

/** A page's shards at their shard indices (a sparse list), where signature checks look them up. */
function pageAsView(page: JobViewPage): JobView {
  const shardList: JobView['shardList'] = []
  for (const shard of page.shardList) shardList[shard.index] = shard
  return { ...page, shardList }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}
