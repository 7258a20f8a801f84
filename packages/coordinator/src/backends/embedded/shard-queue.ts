import { isTerminalJobState, type JobState, type ReplicaView, type ShardState } from '@quorate/protocol'
import type { ShardDecision, ShardHandler, ShardQueue, ShardWork, StoredSpec } from '../../backend.ts'
import { decisionDetail } from '../shared/decision.ts'
import type { RunningShards } from '../shared/running-shards.ts'
import type { SchedulerDatabase } from './database.ts'
import { seqAt } from './database.ts'
import type { TurnWriter } from './turn-writer.ts'

export interface EmbeddedShardQueueComponents {
  db: SchedulerDatabase
  writer: TurnWriter
  running: RunningShards
  now: () => number
}

interface ClaimedRow {
  job_id: string
  idx: number
  input: Uint8Array
  runs: number
  spec: string
  deadline: number
}

/**
 * Shards of the SQLite file handed to this process's handler. A claimed
 * shard is held by its run (the fence is the run number): a run that ends
 * without a decision releases it to the back of the queue, and a restart
 * frees every claim (see `SchedulerDatabase.open`).
 */
export class EmbeddedShardQueue implements ShardQueue {
  readonly #c: EmbeddedShardQueueComponents
  #handler: ShardHandler | undefined
  #concurrency: () => number = () => 0
  #inflight = 0
  #stopped = false
  #pokeScheduled = false

  constructor(components: EmbeddedShardQueueComponents) {
    this.#c = components
  }

  consume(handler: ShardHandler, concurrency: () => number): void {
    this.#handler = handler
    this.#concurrency = concurrency
    this.poke()
  }

  poke(): void {
    if (this.#pokeScheduled) return
    this.#pokeScheduled = true
    setImmediate(() => this.#pump())
  }

  /** Hand out no more shards, and drop the decisions of runs still going. */
  stop(): void {
    this.#stopped = true
  }

  async amend(work: ShardWork, decision: ShardDecision): Promise<boolean> {
    const { db, now } = this.#c
    if (!db.isOpen || decision.state === 'cancelled') return false
    return db.tx(() => {
      const job = db.sql('SELECT state FROM jobs WHERE id = ?').get(work.jobId) as { state: string } | undefined
      const shard = db.sql('SELECT state FROM shards WHERE job_id = ? AND idx = ?').get(work.jobId, work.index) as
        | { state: string }
        | undefined
      if (job === undefined || isTerminalJobState(job.state as JobState) || shard?.state !== 'accepted') return false
      db.sql('UPDATE shards SET state = ?, replicas = ?, decision = ?, output = ? WHERE job_id = ? AND idx = ?').run(
        decision.state,
        JSON.stringify(decision.replicas),
        JSON.stringify(decisionDetail(decision, now(), true)),
        decision.output ?? null,
        work.jobId,
        work.index,
      )
      if (decision.state === 'failed') {
        db.sql('UPDATE jobs SET accepted = accepted - 1, failed = failed + 1, updated_at = ? WHERE id = ?').run(
          now(),
          work.jobId,
        )
      }
      return true
    })
  }

  async pendingShards(): Promise<number> {
    if (!this.#c.db.isOpen) return 0
    const row = this.#c.db
      .sql("SELECT count(*) AS n FROM shards WHERE claimed = 0 AND state IN ('pending', 'dispatched', 'voting')")
      .get() as { n: number }
    return row.n
  }

  async progress(work: ShardWork, state: ShardState, replicas: ReplicaView[], reason?: string): Promise<void> {
    const { db, now } = this.#c
    if (!db.isOpen) return
    const t = now()
    db.tx(() => {
      const changed = db
        .sql(
          "UPDATE shards SET state = ?, replicas = ?, decision = ? WHERE job_id = ? AND idx = ? AND runs = ? AND state IN ('pending', 'dispatched', 'voting')",
        )
        .run(
          state,
          JSON.stringify(replicas),
          reason === undefined ? null : JSON.stringify({ reason }),
          work.jobId,
          work.index,
          work.run,
        )
      if (Number(changed.changes) > 0 && state !== 'pending') {
        db.sql("UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND state = 'queued'").run(t, work.jobId)
      }
    })
  }

  #pump(): void {
    this.#pokeScheduled = false
    if (this.#stopped || this.#handler === undefined || !this.#c.db.isOpen) return
    while (this.#inflight < this.#concurrency()) {
      const limit = this.#concurrency() - this.#inflight
      const batch = this.#claim(limit)
      for (const work of batch) this.#start(work)
      // Fewer than asked for: the queue is empty, and another claim would be a transaction for nothing.
      if (batch.length < limit) return
    }
  }

  /**
   * Claim the shards this process can start now inside the caller's write transaction (a
   * submission's: one commit stores a job and hands out its first shards). Returns what to do once
   * that transaction has committed: start them.
   */
  claimInTx(): () => void {
    if (this.#stopped || this.#handler === undefined || !this.#c.db.isOpen) return () => this.poke()
    const limit = this.#concurrency() - this.#inflight
    const works = limit > 0 ? this.#mark(this.#select(limit)) : []
    return () => {
      for (const work of works) this.#start(work)
      if (works.length === limit) this.poke()
    }
  }

  /**
   * Take up to `limit` free shards, oldest first, marked in one transaction. The read needs none:
   * this process alone writes the file and nothing runs between the read and the marks, so an empty
   * queue (every pump after a decision) costs no commit.
   */
  #claim(limit: number): ShardWork[] {
    const rows = this.#select(limit)
    return rows.length === 0 ? [] : this.#c.db.tx(() => this.#mark(rows))
  }

  #select(limit: number): ClaimedRow[] {
    return this.#c.db
      .sql(
        `SELECT s.job_id, s.idx, s.input, s.runs, j.spec, j.deadline FROM shards s JOIN jobs j ON j.id = s.job_id
         WHERE s.claimed = 0 AND s.state IN ('pending', 'dispatched', 'voting') ORDER BY s.seq LIMIT ?`,
      )
      .all(limit) as unknown as ClaimedRow[]
  }

  /** Mark `rows` claimed by a new run each, in the caller's transaction. */
  #mark(rows: ClaimedRow[]): ShardWork[] {
    const { db } = this.#c
    const mark = db.sql('UPDATE shards SET claimed = 1, runs = ? WHERE job_id = ? AND idx = ?')
    const specs = new Map<string, StoredSpec>()
    const modules = new Map<string, Uint8Array>()
    return rows.map((row) => {
      const run = row.runs + 1
      mark.run(run, row.job_id, row.idx)
      let spec = specs.get(row.job_id)
      if (spec === undefined) specs.set(row.job_id, (spec = JSON.parse(row.spec) as StoredSpec))
      let bytes = modules.get(spec.moduleSha256)
      if (bytes === undefined) {
        const module = db.sql('SELECT bytes FROM modules WHERE sha = ?').get(spec.moduleSha256)
        bytes = (module as { bytes: Uint8Array }).bytes
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
  }

  #start(work: ShardWork): void {
    const handler = this.#handler as ShardHandler
    this.#inflight++
    const { signal, leave } = this.#c.running.enter(work.jobId)
    void handler(work, signal)
      .then((decision) => (this.#stopped ? undefined : this.#c.writer.record(work, decision)))
      .catch(() => {
        // The run could not finish: release the shard and send it to the back of the queue.
        if (this.#stopped || !this.#c.db.isOpen) return
        this.#c.db
          .sql('UPDATE shards SET claimed = 0, seq = ? WHERE job_id = ? AND idx = ? AND runs = ?')
          .run(seqAt(this.#c.now()), work.jobId, work.index, work.run)
      })
      .finally(() => {
        this.#inflight--
        leave()
        this.poke()
      })
  }
}
