import { TERMINAL_JOB_STATES } from '@quorate/protocol'
import type { PurgeStep, RetentionStore } from '../../backend.ts'
import type { SchedulerDatabase } from './database.ts'

const TERMINAL = TERMINAL_JOB_STATES.map((s) => `'${s}'`).join(', ')

/** Purging finished jobs from the SQLite file: each step one short transaction over a bounded number of rows. */
export class EmbeddedRetentionStore implements RetentionStore {
  readonly #db: SchedulerDatabase

  constructor(db: SchedulerDatabase) {
    this.#db = db
  }

  async finishedBefore(before: number, limit: number): Promise<string[]> {
    const rows = this.#db
      .sql(
        `SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at <= ? AND state IN (${TERMINAL}) ORDER BY finished_at LIMIT ?`,
      )
      .all(before, limit) as Array<{ id: string }>
    return rows.map((r) => r.id)
  }

  async purgeJob(id: string, limit: number, now: number): Promise<PurgeStep> {
    const db = this.#db
    return db.tx((): PurgeStep => {
      const row = db.sql('SELECT state FROM jobs WHERE id = ?').get(id) as { state: string } | undefined
      if (row === undefined) return 'purged'
      if (!(TERMINAL_JOB_STATES as readonly string[]).includes(row.state)) return 'live'
      const deleted = db
        .sql('DELETE FROM shards WHERE rowid IN (SELECT rowid FROM shards WHERE job_id = ? LIMIT ?)')
        .run(id, limit)
      if (Number(deleted.changes) === limit) return 'more'
      db.sql('DELETE FROM jobs WHERE id = ?').run(id)
      db.sql('INSERT OR REPLACE INTO purged_jobs (id, purged_at) VALUES (?, ?)').run(id, now)
      return 'purged'
    })
  }

  async purgedAt(id: string): Promise<number | undefined> {
    const row = this.#db.sql('SELECT purged_at FROM purged_jobs WHERE id = ?').get(id) as
      | { purged_at: number }
      | undefined
    return row?.purged_at
  }

  async dropTombstones(before: number, limit: number): Promise<number> {
    const dropped = this.#db
      .sql('DELETE FROM purged_jobs WHERE id IN (SELECT id FROM purged_jobs WHERE purged_at <= ? LIMIT ?)')
      .run(before, limit)
    return Number(dropped.changes)
  }

  async claimPurge(): Promise<boolean> {
    return true
  }
}
