import { EventEmitter } from 'node:events'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import {
  ErrorCode,
  isTerminalJobState,
  type JobEvent,
  JobNotFoundError,
  type JobSpec,
  type JobState,
  type JobSummary,
  type ListPage,
  type ProviderView,
  QuorateError,
  type ReplicaView,
  type ShardState,
  sha256Hex,
} from '@quorate/protocol'
import {
  decisionEvent,
  type JobRecord,
  type ProviderCounter,
  type SchedulerBackend,
  type ShardDecision,
  type ShardHandler,
  type ShardRecord,
  type ShardWork,
  type StoredSpec,
  type SubmitResult,
} from '../backend.ts'
import { emptyCounters, jobFailureReason, mergeProviders, storedSpecOf, summaryOf } from '../jobs.ts'

export interface EmbeddedBackendOptions {
  /** The coordinator's data dir; the database is `<dataDir>/scheduler.sqlite`. */
  dataDir: string
  now?: () => number
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  finished_at INTEGER, deadline INTEGER NOT NULL, spec TEXT NOT NULL,
  total INTEGER NOT NULL, accepted INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, reason TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS modules (sha TEXT PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS shards (
  job_id TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, input BLOB NOT NULL, input_sha TEXT NOT NULL,
  replicas TEXT NOT NULL DEFAULT '[]', decision TEXT, output BLOB, runs INTEGER NOT NULL DEFAULT 0,
  claimed INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS shards_queue ON shards (claimed, state, seq);
CREATE TABLE IF NOT EXISTS providers (
  peer_id TEXT PRIMARY KEY, valid INTEGER NOT NULL DEFAULT 0, invalid INTEGER NOT NULL DEFAULT 0,
  timeouts INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0, view TEXT
);
`

const UNDECIDED: ShardState[] = ['pending', 'dispatched', 'voting']

interface JobRow {
  id: string
  state: string
  created_at: number
  updated_at: number
  finished_at: number | null
  deadline: number
  spec: string
  total: number
  accepted: number
  failed: number
  reason: string | null
}

interface ShardRow {
  job_id: string
  idx: number
  state: string
  input_sha: string
  input_len: number
  replicas: string
  decision: string | null
  runs: number
}

/**
 * The embedded backend: everything in one SQLite file in the coordinator's
 * data dir (Node's built-in `node:sqlite`), so a laptop needs no server and
 * a coordinator restarted on the same data dir carries on with its jobs.
 * One process owns a data dir at a time (a lock file says which).
 */
export function embeddedBackend(options: EmbeddedBackendOptions): SchedulerBackend {
  const now = options.now ?? Date.now
  const events = new EventEmitter<{ event: [JobEvent] }>()
  events.setMaxListeners(0)
  const live = new Map<string, ProviderView>()
  const controllers = new Map<string, Set<AbortController>>()
  let db: DatabaseSync | undefined
  let handler: ShardHandler | undefined
  let concurrency: () => number = () => 0
  let inflight = 0
  let stopped = false
  let pokeScheduled = false
  const lockFile = join(options.dataDir, 'scheduler.lock')

  const database = (): DatabaseSync => {
    if (db === undefined) throw new QuorateError(ErrorCode.INTERNAL, 'the embedded backend is not started')
    return db
  }

  // node:sqlite compiles SQL on every prepare(); the hot paths reuse compiled statements.
  const statements = new Map<string, StatementSync>()
  const sql = (text: string): StatementSync => {
    let statement = statements.get(text)
    if (statement === undefined) statements.set(text, (statement = database().prepare(text)))
    return statement
  }

  const tx = <T>(fn: () => T): T => {
    const d = database()
    d.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      d.exec('COMMIT')
      return result
    } catch (err) {
      d.exec('ROLLBACK')
      throw err
    }
  }

  const jobOf = (row: JobRow): JobRecord => {
    const job: JobRecord = {
      id: row.id,
      spec: JSON.parse(row.spec) as StoredSpec,
      state: row.state as JobState,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      deadline: row.deadline,
      total: row.total,
      accepted: row.accepted,
      failed: row.failed,
    }
    if (row.finished_at !== null) job.finishedAt = row.finished_at
    if (row.reason !== null) job.reason = row.reason
    return job
  }

  const shardOf = (row: ShardRow): ShardRecord => {
    const record: ShardRecord = {
      index: row.idx,
      state: row.state as ShardState,
      inputSha256: row.input_sha,
      inputBytes: row.input_len,
      replicas: JSON.parse(row.replicas) as ReplicaView[],
      runs: row.runs,
    }
    if (row.decision !== null) Object.assign(record, JSON.parse(row.decision))
    return record
  }

  /** Move a finished job to its terminal state, in the caller's transaction. */
  const finishIfDone = (jobId: string): JobState | undefined => {
    const row = sql('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRow | undefined
    if (row === undefined || isTerminalJobState(row.state as JobState)) return undefined
    if (row.accepted + row.failed < row.total) return undefined
    // A shard whose providers agreed on a failing outcome (non-zero exit, trap, ...) is accepted, but the job
    // counts it as failed: the module did not do its work.
    const { n: agreedFailures } = sql(
      "SELECT COUNT(*) AS n FROM shards WHERE job_id = ? AND state = 'accepted' AND json_extract(decision, '$.outcome') <> 'ok'",
    ).get(jobId) as { n: number }
    const failed = row.failed + agreedFailures
    const succeeded = row.accepted - agreedFailures
    const state: JobState = failed === 0 ? 'completed' : succeeded === 0 ? 'failed' : 'partially_failed'
    const reason = state === 'completed' ? null : jobFailureReason(failed, row.total, agreedFailures)
    const t = now()
    sql('UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, reason = ? WHERE id = ?').run(
      state,
      t,
      t,
      reason,
      jobId,
    )
    return state
  }

  /**
   * Write one decision, in the caller's transaction; returns whether it counted.
   * Fencing: only the run that holds the shard may decide it, and only once.
   */
  const recordInTx = (work: ShardWork, decision: ShardDecision): boolean => {
    const shard = sql('SELECT state, runs FROM shards WHERE job_id = ? AND idx = ?').get(work.jobId, work.index) as
      | { state: string; runs: number }
      | undefined
    if (shard === undefined || shard.runs !== work.run) return false
    if (decision.state === 'cancelled' && shard.state === 'cancelled') {
      // The job was cancelled under this run: keep the run's last replica table, in-flight ones cancelled.
      sql('UPDATE shards SET replicas = ? WHERE job_id = ? AND idx = ?').run(
        JSON.stringify(decision.replicas),
        work.jobId,
        work.index,
      )
      return false
    }
    if (!UNDECIDED.includes(shard.state as ShardState)) return false
    if (decision.state === 'cancelled') {
      sql('UPDATE shards SET claimed = 0, replicas = ? WHERE job_id = ? AND idx = ?').run(
        JSON.stringify(decision.replicas),
        work.jobId,
        work.index,
      )
      return false
    }
    const detail: Record<string, unknown> = {
      decidedAt: now(),
      majority: decision.majority,
      minority: decision.minority,
    }
    for (const key of ['digest', 'outcome', 'reason'] as const)
      if (decision[key] !== undefined) detail[key] = decision[key]
    const replicas = JSON.stringify(decision.replicas)
    if (decision.output === undefined) {
      sql(
        'UPDATE shards SET state = ?, replicas = ?, decision = ?, output = NULL, claimed = 0 WHERE job_id = ? AND idx = ?',
      ).run(decision.state, replicas, JSON.stringify(detail), work.jobId, work.index)
    } else {
      sql(
        "UPDATE shards SET state = ?, replicas = ?, decision = ?, output = COALESCE(?, X''), claimed = 0 WHERE job_id = ? AND idx = ?",
      ).run(decision.state, replicas, JSON.stringify(detail), decision.output, work.jobId, work.index)
    }
    const column = decision.state === 'accepted' ? 'accepted' : 'failed'
    sql(`UPDATE jobs SET ${column} = ${column} + 1, updated_at = ? WHERE id = ?`).run(now(), work.jobId)
    return true
  }

  // Group commit: decisions and provider counts that arrive in the same turn of
  // the event loop are written in one transaction. A commit per shard was most
  // of the coordinator's time on small shards.
  interface PendingDecision {
    work: ShardWork
    decision: ShardDecision
    resolve: () => void
    reject: (err: unknown) => void
  }
  let pendingDecisions: PendingDecision[] = []
  let pendingCounts = new Map<string, Map<ProviderCounter, number>>()
  let pendingCountWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  let writeScheduled = false

  const scheduleWrite = () => {
    if (writeScheduled) return
    writeScheduled = true
    setImmediate(writePending)
  }

  const writePending = () => {
    writeScheduled = false
    const decisions = pendingDecisions
    const counts = pendingCounts
    const countWaiters = pendingCountWaiters
    pendingDecisions = []
    pendingCounts = new Map()
    pendingCountWaiters = []
    if (db === undefined) {
      const err = new QuorateError(ErrorCode.INTERNAL, 'the embedded backend is stopped')
      for (const p of decisions) p.reject(err)
      for (const w of countWaiters) w.reject(err)
      return
    }
    let finished: Array<[string, JobState]>
    const stored: JobEvent[] = []
    try {
      finished = tx(() => {
        const touched = new Set<string>()
        for (const { work, decision } of decisions) {
          if (!recordInTx(work, decision)) continue
          touched.add(work.jobId)
          const event = decisionEvent(work, decision, now())
          if (event !== undefined) stored.push(event)
        }
        for (const [peerId, byCounter] of counts) {
          for (const [counter, n] of byCounter) {
            sql(
              `INSERT INTO providers (peer_id, ${counter}) VALUES (?, ?) ON CONFLICT(peer_id) DO UPDATE SET ${counter} = ${counter} + excluded.${counter}`,
            ).run(peerId, n)
          }
        }
        const done: Array<[string, JobState]> = []
        for (const jobId of touched) {
          const state = finishIfDone(jobId)
          if (state !== undefined) done.push([jobId, state])
        }
        return done
      })
    } catch (err) {
      for (const p of decisions) p.reject(err)
      for (const w of countWaiters) w.reject(err)
      return
    }
    for (const p of decisions) p.resolve()
    for (const w of countWaiters) w.resolve()
    for (const event of stored) publish(event)
    for (const [jobId, state] of finished) publish({ type: 'job:done', at: now(), jobId, state })
  }

  const record = (work: ShardWork, decision: ShardDecision): Promise<void> =>
    new Promise((resolve, reject) => {
      pendingDecisions.push({ work, decision, resolve, reject })
      scheduleWrite()
    })

  /** Take up to `limit` free shards, oldest first, in one transaction. */
  const claim = (limit: number): ShardWork[] =>
    tx(() => {
      const rows = sql(
        `SELECT s.job_id, s.idx, s.input, s.runs, j.spec, j.deadline FROM shards s JOIN jobs j ON j.id = s.job_id
           WHERE s.claimed = 0 AND s.state IN ('pending', 'dispatched', 'voting') ORDER BY s.seq LIMIT ?`,
      ).all(limit) as Array<{
        job_id: string
        idx: number
        input: Uint8Array
        runs: number
        spec: string
        deadline: number
      }>
      const mark = sql('UPDATE shards SET claimed = 1, runs = ? WHERE job_id = ? AND idx = ?')
      const specs = new Map<string, StoredSpec>()
      const modules = new Map<string, Uint8Array>()
      return rows.map((row) => {
        const run = row.runs + 1
        mark.run(run, row.job_id, row.idx)
        let spec = specs.get(row.job_id)
        if (spec === undefined) specs.set(row.job_id, (spec = JSON.parse(row.spec) as StoredSpec))
        let bytes = modules.get(spec.moduleSha256)
        if (bytes === undefined) {
          bytes = (sql('SELECT bytes FROM modules WHERE sha = ?').get(spec.moduleSha256) as { bytes: Uint8Array }).bytes
          modules.set(spec.moduleSha256, bytes)
        }
        return {
          jobId: row.job_id,
          index: row.idx,
          input: row.input,
          spec,
          module: { sha256: spec.moduleSha256, bytes },
          deadline: row.deadline,
          run,
          fence: String(run),
        }
      })
    })

  const pump = () => {
    pokeScheduled = false
    if (stopped || handler === undefined || db === undefined) return
    while (inflight < concurrency()) {
      const batch = claim(concurrency() - inflight)
      if (batch.length === 0) return
      for (const work of batch) start(work)
    }
  }

  const start = (work: ShardWork) => {
    const run = handler as ShardHandler
    inflight++
    const controller = new AbortController()
    let set = controllers.get(work.jobId)
    if (set === undefined) controllers.set(work.jobId, (set = new Set()))
    set.add(controller)
    void run(work, controller.signal)
      .then((decision) => (stopped ? undefined : record(work, decision)))
      .catch(() => {
        // The run could not finish: release the shard and send it to the back of the queue.
        if (stopped || db === undefined) return
        sql('UPDATE shards SET claimed = 0, seq = ? WHERE job_id = ? AND idx = ? AND runs = ?').run(
          now() * 1_000_000,
          work.jobId,
          work.index,
          work.run,
        )
      })
      .finally(() => {
        inflight--
        set.delete(controller)
        if (set.size === 0) controllers.delete(work.jobId)
        backend.poke()
      })
  }

  const publish = (event: JobEvent) => {
    events.emit('event', event)
  }

  const backend: SchedulerBackend = {
    kind: 'embedded',
    async start() {
      mkdirSync(options.dataDir, { recursive: true })
      takeLock(lockFile)
      db = new DatabaseSync(join(options.dataDir, 'scheduler.sqlite'))
      db.exec(SCHEMA)
      // This process owns the data dir now: whatever an earlier process had claimed is free again.
      db.exec('UPDATE shards SET claimed = 0 WHERE claimed = 1')
    },
    async stop() {
      stopped = true
      for (const set of controllers.values()) for (const c of set) c.abort(new Error('coordinator stopping'))
      // Decisions already made are written, not dropped.
      if (db !== undefined) writePending()
      statements.clear()
      db?.close()
      db = undefined
      rmSync(lockFile, { force: true })
    },

    async submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult> {
      const result = tx(() => {
        const existing = sql('SELECT state FROM jobs WHERE id = ?').get(id) as { state: string } | undefined
        if (existing !== undefined) return { id, state: existing.state as JobState, created: false }
        const t = now()
        sql('INSERT OR IGNORE INTO modules (sha, bytes) VALUES (?, ?)').run(spec.module.sha256, spec.module.bytes)
        sql(
          'INSERT INTO jobs (id, state, created_at, updated_at, deadline, spec, total) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ).run(id, 'queued', t, t, deadline, JSON.stringify(storedSpecOf(spec)), spec.inputs.length)
        const insert = sql(
          // node:sqlite binds an empty Uint8Array as NULL; an empty shard input is still an input.
          "INSERT INTO shards (job_id, idx, state, input, input_sha, seq) VALUES (?, ?, 'pending', COALESCE(?, X''), ?, ?)",
        )
        const seqBase = t * 1_000_000
        spec.inputs.forEach((input, idx) => {
          insert.run(id, idx, input, sha256Hex(input), seqBase + idx)
        })
        return { id, state: 'queued' as JobState, created: true }
      })
      if (result.created) {
        publish({ type: 'job:queued', at: now(), jobId: id })
        backend.poke()
      }
      return result
    },

    async job(id) {
      const row = sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined
      return row === undefined ? undefined : jobOf(row)
    },

    async shards(id) {
      const rows = sql(
        'SELECT job_id, idx, state, input_sha, length(input) AS input_len, replicas, decision, runs FROM shards WHERE job_id = ? ORDER BY idx',
      ).all(id) as unknown as ShardRow[]
      return rows.map(shardOf)
    },

    async output(id, index) {
      const row = sql('SELECT output FROM shards WHERE job_id = ? AND idx = ?').get(id, index) as
        | { output: Uint8Array | null }
        | undefined
      return row?.output ?? undefined
    },

    async list({ state, offset, limit }): Promise<ListPage<JobSummary>> {
      const where = state === undefined ? '' : 'WHERE state = ?'
      const params = state === undefined ? [] : [state]
      const total = (sql(`SELECT count(*) AS n FROM jobs ${where}`).get(...params) as { n: number }).n
      const rows = sql(`SELECT * FROM jobs ${where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`).all(
        ...params,
        limit,
        offset,
      ) as unknown as JobRow[]
      return { items: rows.map((r) => summaryOf(jobOf(r))), total, offset, limit }
    },

    async end(id, state, reason) {
      const ended = tx(() => {
        const row = sql('SELECT state FROM jobs WHERE id = ?').get(id) as { state: string } | undefined
        if (row === undefined) return undefined
        if (isTerminalJobState(row.state as JobState)) return { state: row.state as JobState, changed: false }
        const t = now()
        const shardState = state === 'cancelled' ? 'cancelled' : 'failed'
        const undecided = sql(
          "UPDATE shards SET state = ?, claimed = 0, decision = ? WHERE job_id = ? AND state IN ('pending', 'dispatched', 'voting')",
        ).run(shardState, JSON.stringify({ reason, decidedAt: t, majority: [], minority: [] }), id)
        const failedDelta = state === 'expired' ? Number(undecided.changes) : 0
        sql(
          'UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, reason = ?, failed = failed + ? WHERE id = ?',
        ).run(state, t, t, reason, failedDelta, id)
        return { state, changed: true }
      })
      if (ended === undefined) return Promise.reject(new JobNotFoundError(id))
      if (ended.changed) {
        for (const c of controllers.get(id) ?? []) c.abort(new Error(reason))
        publish({ type: 'job:done', at: now(), jobId: id, state: ended.state })
      }
      return ended.state
    },

    async overdue(t, limit) {
      const rows = sql("SELECT id FROM jobs WHERE state IN ('queued', 'running') AND deadline <= ? LIMIT ?").all(
        t,
        limit,
      ) as Array<{ id: string }>
      return rows.map((r) => r.id)
    },

    async pendingShards() {
      if (db === undefined) return 0
      const row = sql(
        "SELECT count(*) AS n FROM shards WHERE claimed = 0 AND state IN ('pending', 'dispatched', 'voting')",
      ).get() as { n: number }
      return row.n
    },

    consume(h, c) {
      handler = h
      concurrency = c
      backend.poke()
    },

    poke() {
      if (pokeScheduled) return
      pokeScheduled = true
      setImmediate(pump)
    },

    async amend(work, decision) {
      if (db === undefined || decision.state === 'cancelled') return false
      return tx(() => {
        const job = sql('SELECT state FROM jobs WHERE id = ?').get(work.jobId) as { state: string } | undefined
        const shard = sql('SELECT state FROM shards WHERE job_id = ? AND idx = ?').get(work.jobId, work.index) as
          | { state: string }
          | undefined
        if (job === undefined || isTerminalJobState(job.state as JobState) || shard?.state !== 'accepted') return false
        const detail: Record<string, unknown> = {
          decidedAt: now(),
          majority: decision.majority,
          minority: decision.minority,
          rechecked: true,
        }
        for (const key of ['digest', 'outcome', 'reason'] as const)
          if (decision[key] !== undefined) detail[key] = decision[key]
        sql('UPDATE shards SET state = ?, replicas = ?, decision = ?, output = ? WHERE job_id = ? AND idx = ?').run(
          decision.state,
          JSON.stringify(decision.replicas),
          JSON.stringify(detail),
          decision.output ?? null,
          work.jobId,
          work.index,
        )
        if (decision.state === 'failed') {
          sql('UPDATE jobs SET accepted = accepted - 1, failed = failed + 1, updated_at = ? WHERE id = ?').run(
            now(),
            work.jobId,
          )
        }
        return true
      })
    },

    async progress(work, state, replicas, reason) {
      if (db === undefined) return
      const t = now()
      tx(() => {
        const changed = sql(
          "UPDATE shards SET state = ?, replicas = ?, decision = ? WHERE job_id = ? AND idx = ? AND runs = ? AND state IN ('pending', 'dispatched', 'voting')",
        ).run(
          state,
          JSON.stringify(replicas),
          reason === undefined ? null : JSON.stringify({ reason }),
          work.jobId,
          work.index,
          work.run,
        )
        if (Number(changed.changes) > 0 && state !== 'pending') {
          sql("UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND state = 'queued'").run(t, work.jobId)
        }
      })
    },

    countProvider(peerId, counter: ProviderCounter) {
      if (db === undefined) return Promise.resolve()
      let byCounter = pendingCounts.get(peerId)
      if (byCounter === undefined) pendingCounts.set(peerId, (byCounter = new Map()))
      byCounter.set(counter, (byCounter.get(counter) ?? 0) + 1)
      scheduleWrite()
      return new Promise<void>((resolve, reject) => pendingCountWaiters.push({ resolve, reject }))
    },

    async announceProviders(providers) {
      for (const p of providers) live.set(p.peerId, p)
    },

    async providers() {
      const rows = sql('SELECT * FROM providers').all() as Array<Record<string, number | string>>
      const stored = new Map<string, { counters: Record<ProviderCounter, number> }>()
      for (const r of rows) {
        const counters = emptyCounters()
        for (const k of Object.keys(counters) as ProviderCounter[]) counters[k] = Number(r[k] ?? 0)
        stored.set(String(r.peer_id), { counters })
      }
      return mergeProviders([...live.values()], stored)
    },

    publish,
    subscribe(listener) {
      events.on('event', listener)
      return () => events.off('event', listener)
    },
  }
  return backend
}

/** One process per data dir: refuse to start while another live process holds it. */
function takeLock(path: string): void {
  try {
    const pid = Number(readFileSync(path, 'utf8'))
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
      throw new QuorateError(
        ErrorCode.INVALID_OPTION,
        `the data dir is in use by another coordinator (pid ${pid}); give each coordinator its own --data-dir, or use --redis to share work`,
      )
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  writeFileSync(path, String(process.pid))
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
