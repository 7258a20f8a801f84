import { isTerminalJobState, type JobEvent, type JobState, type ShardState } from '@quorate/protocol'
import type { ProviderCounter, ShardDecision, ShardWork } from '../../backend.ts'
import { jobFailureReason } from '../../jobs.ts'
import { decisionDetail, decisionEvent, UNDECIDED_STATES } from '../shared/decision.ts'
import type { LocalEventBus } from '../shared/local-event-bus.ts'
import { type CounterIncrement, tallyCounts } from '../shared/provider-counts.ts'
import { TurnBatch } from '../shared/turn-batch.ts'
import type { SchedulerDatabase } from './database.ts'

type Write = { decision: ShardDecision; work: ShardWork } | { count: CounterIncrement }

/**
 * Group commit: the decisions and provider counts that arrive in one turn of
 * the event loop are written in one transaction, and the decisions stored
 * are announced after it commits (a job's `job:done` after its shards').
 */
export class TurnWriter {
  readonly #db: SchedulerDatabase
  readonly #events: LocalEventBus
  readonly #now: () => number
  readonly #batch = new TurnBatch<Write>((writes) => this.#write(writes))

  constructor(db: SchedulerDatabase, events: LocalEventBus, now: () => number) {
    this.#db = db
    this.#events = events
    this.#now = now
  }

  /** Store a run's decision, if the run still holds its shard (see `#recordInTx`). */
  record(work: ShardWork, decision: ShardDecision): Promise<void> {
    return this.#batch.add({ work, decision })
  }

  count(peerId: string, counter: ProviderCounter): Promise<void> {
    return this.#batch.add({ count: { peerId, counter } })
  }

  /** Write what is pending now: at stop, decisions already made are written, not dropped. */
  flush(): Promise<void> {
    return this.#batch.flush()
  }

  #write(writes: Write[]): void {
    const stored: JobEvent[] = []
    const finished = this.#db.tx(() => {
      const touched = new Set<string>()
      const counts: CounterIncrement[] = []
      for (const write of writes) {
        if ('count' in write) {
          counts.push(write.count)
          continue
        }
        if (!this.#recordInTx(write.work, write.decision)) continue
        touched.add(write.work.jobId)
        const event = decisionEvent(write.work, write.decision, this.#now())
        if (event !== undefined) stored.push(event)
      }
      for (const [peerId, byCounter] of tallyCounts(counts)) {
        for (const [counter, n] of byCounter) {
          this.#db
            .sql(
              `INSERT INTO providers (peer_id, ${counter}) VALUES (?, ?) ON CONFLICT(peer_id) DO UPDATE SET ${counter} = ${counter} + excluded.${counter}`,
            )
            .run(peerId, n)
        }
      }
      const done: Array<[string, JobState]> = []
      for (const jobId of touched) {
        const state = this.#finishIfDone(jobId)
        if (state !== undefined) done.push([jobId, state])
      }
      return done
    })
    for (const event of stored) this.#events.publish(event)
    for (const [jobId, state] of finished) this.#events.publish({ type: 'job:done', at: this.#now(), jobId, state })
  }

  /**
   * Write one decision, in the caller's transaction; returns whether it counted.
   * Fencing: only the run that holds the shard may decide it, and only once.
   */
  #recordInTx(work: ShardWork, decision: ShardDecision): boolean {
    const sql = (text: string) => this.#db.sql(text)
    const shard = sql('SELECT state, runs FROM shards WHERE job_id = ? AND idx = ?').get(work.jobId, work.index) as
      | { state: string; runs: number }
      | undefined
    if (shard === undefined || shard.runs !== work.run) return false
    const replicas = JSON.stringify(decision.replicas)
    if (decision.state === 'cancelled' && shard.state === 'cancelled') {
      // The job was cancelled under this run: keep the run's last replica table, in-flight ones cancelled.
      sql('UPDATE shards SET replicas = ? WHERE job_id = ? AND idx = ?').run(replicas, work.jobId, work.index)
      return false
    }
    if (!UNDECIDED_STATES.includes(shard.state as ShardState)) return false
    if (decision.state === 'cancelled') {
      sql('UPDATE shards SET claimed = 0, replicas = ? WHERE job_id = ? AND idx = ?').run(
        replicas,
        work.jobId,
        work.index,
      )
      return false
    }
    const detail = JSON.stringify(decisionDetail(decision, this.#now()))
    if (decision.output === undefined) {
      sql(
        'UPDATE shards SET state = ?, replicas = ?, decision = ?, output = NULL, claimed = 0 WHERE job_id = ? AND idx = ?',
      ).run(decision.state, replicas, detail, work.jobId, work.index)
    } else {
      sql(
        "UPDATE shards SET state = ?, replicas = ?, decision = ?, output = COALESCE(?, X''), claimed = 0 WHERE job_id = ? AND idx = ?",
      ).run(decision.state, replicas, detail, decision.output, work.jobId, work.index)
    }
    const column = decision.state === 'accepted' ? 'accepted' : 'failed'
    sql(`UPDATE jobs SET ${column} = ${column} + 1, updated_at = ? WHERE id = ?`).run(this.#now(), work.jobId)
    return true
  }

  /** Move a finished job to its terminal state, in the caller's transaction. */
  #finishIfDone(jobId: string): JobState | undefined {
    const sql = (text: string) => this.#db.sql(text)
    const row = sql('SELECT state, total, accepted, failed FROM jobs WHERE id = ?').get(jobId) as
      | { state: string; total: number; accepted: number; failed: number }
      | undefined
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
    const t = this.#now()
    sql('UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, reason = ? WHERE id = ?').run(
      state,
      t,
      t,
      reason,
      jobId,
    )
    return state
  }
}
