import {
  inputDigestOf,
  isTerminalJobState,
  JobNotFoundError,
  type JobSpec,
  type JobState,
  type JobSummary,
  type ListPage,
  STORED_REF_PREFIX_HEX,
} from '@quorate/protocol'
import type {
  DecidedShard,
  JobListFilter,
  JobRecord,
  JobStore,
  ShardPageQuery,
  ShardRecord,
  ShardRecordPage,
  ShardWork,
  StoredSpec,
  SubmitResult,
} from '../../backend.ts'
import { storedSpecOf, summaryOf } from '../../jobs.ts'
import type { LocalEventBus } from '../shared/local-event-bus.ts'
import { jobRecordOf, type StoredJobFields, type StoredShardFields, shardRecordOf } from '../shared/records.ts'
import type { RunningShards } from '../shared/running-shards.ts'
import { JOB_COLUMNS, type SchedulerDatabase, seqAt } from './database.ts'

export interface EmbeddedJobStoreComponents {
  db: SchedulerDatabase
  events: LocalEventBus
  running: RunningShards
  /**
   * Claims the shards this process can start now, in the submission's transaction; the function
   * it returns starts them once that has committed (see `EmbeddedShardQueue.claimInTx`).
   */
  claimInTx: () => () => void
  now: () => number
}

// A blob reference is stored as its magic prefix and JSON: its size is the blob's, not the reference's.
const REF = `substr(input, 1, ${STORED_REF_PREFIX_HEX.length / 2}) = X'${STORED_REF_PREFIX_HEX}'`
const INPUT_BYTES = `CASE WHEN ${REF} THEN json_extract(CAST(substr(input, ${STORED_REF_PREFIX_HEX.length / 2 + 1}) AS TEXT), '$.size') ELSE length(input) END`
const SHARD_COLUMNS = `idx, state, input_sha AS inputSha256, ${INPUT_BYTES} AS inputBytes, ${REF} AS inputBlob, replicas, decision, runs`

/** Jobs and shards in the SQLite file: each write one transaction. */
export class EmbeddedJobStore implements JobStore {
  readonly #c: EmbeddedJobStoreComponents

  constructor(components: EmbeddedJobStoreComponents) {
    this.#c = components
  }

  async submit(id: string, spec: JobSpec, deadline: number): Promise<SubmitResult> {
    const { db, now } = this.#c
    const result = db.tx(() => {
      const existing = db.sql('SELECT state FROM jobs WHERE id = ?').get(id) as { state: string } | undefined
      if (existing !== undefined) return { id, state: existing.state as JobState, created: false }
      const t = now()
      db.sql('INSERT OR IGNORE INTO modules (sha, bytes) VALUES (?, ?)').run(spec.module.sha256, spec.module.bytes)
      db.sql(
        'INSERT INTO jobs (id, state, created_at, updated_at, deadline, spec, total) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(id, 'queued', t, t, deadline, JSON.stringify(storedSpecOf(spec)), spec.inputs.length)
      const insert = db.sql(
        // node:sqlite binds an empty Uint8Array as NULL; an empty shard input is still an input.
        "INSERT INTO shards (job_id, idx, state, input, input_sha, seq) VALUES (?, ?, 'pending', COALESCE(?, X''), ?, ?)",
      )
      const seqBase = seqAt(t)
      spec.inputs.forEach((input, idx) => {
        // A blob reference is stored as it came; the shard names the blob's digest.
        insert.run(id, idx, input, inputDigestOf(input), seqBase + idx)
      })
      return { id, state: 'queued' as JobState, created: true, start: this.#c.claimInTx() }
    })
    if (result.start === undefined) return result
    this.#c.events.publish({ type: 'job:queued', at: now(), jobId: id })
    result.start()
    return { id: result.id, state: result.state, created: result.created }
  }

  async job(id: string): Promise<JobRecord | undefined> {
    const row = this.#c.db.sql(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as StoredJobFields | undefined
    return row === undefined ? undefined : jobRecordOf(id, row)
  }

  async shards(id: string): Promise<ShardRecord[]> {
    const rows = this.#c.db
      .sql(`SELECT ${SHARD_COLUMNS} FROM shards WHERE job_id = ? ORDER BY idx`)
      .all(id) as unknown as Array<StoredShardFields & { idx: number }>
    return rows.map((row) => shardRecordOf(row.idx, row))
  }

  async shardPage(id: string, { after, limit, states }: ShardPageQuery): Promise<ShardRecordPage> {
    // A range on the primary key (job_id, idx): the page is read, not the job. One row more says whether any are left.
    const filter = states === undefined ? '' : `AND state IN (${states.map(() => '?').join(', ')})`
    const rows = this.#c.db
      .sql(`SELECT ${SHARD_COLUMNS} FROM shards WHERE job_id = ? AND idx > ? ${filter} ORDER BY idx LIMIT ?`)
      .all(id, after, ...(states ?? []), limit + 1) as unknown as Array<StoredShardFields & { idx: number }>
    const shards = rows.slice(0, limit).map((row) => shardRecordOf(row.idx, row))
    return { shards, next: rows.length > limit ? shards.at(-1)?.index : undefined }
  }

  async output(id: string, index: number): Promise<Uint8Array | undefined> {
    const row = this.#c.db.sql('SELECT output FROM shards WHERE job_id = ? AND idx = ?').get(id, index) as
      | { output: Uint8Array | null }
      | undefined
    return row?.output ?? undefined
  }

  async decidedShard(id: string, index: number): Promise<DecidedShard | undefined> {
    const { db } = this.#c
    const row = db
      .sql(`SELECT ${SHARD_COLUMNS}, input, output FROM shards WHERE job_id = ? AND idx = ?`)
      .get(id, index) as (StoredShardFields & { idx: number; input: Uint8Array; output: Uint8Array | null }) | undefined
    const job = db.sql('SELECT spec, deadline FROM jobs WHERE id = ?').get(id) as
      | { spec: string; deadline: number }
      | undefined
    if (row === undefined || job === undefined) return undefined
    const spec = JSON.parse(job.spec) as StoredSpec
    const module = db.sql('SELECT bytes FROM modules WHERE sha = ?').get(spec.moduleSha256) as
      | { bytes: Uint8Array }
      | undefined
    if (module === undefined) return undefined
    const record = shardRecordOf(index, row)
    const work: ShardWork = {
      jobId: id,
      index,
      input: row.input,
      spec,
      module: { sha256: spec.moduleSha256, bytes: module.bytes },
      deadline: job.deadline,
      run: record.runs,
      fence: '',
    }
    return row.output === null ? { work, record } : { work, record, output: row.output }
  }

  async list({ state, offset, limit }: JobListFilter): Promise<ListPage<JobSummary>> {
    const { db } = this.#c
    const where = state === undefined ? '' : 'WHERE state = ?'
    const params = state === undefined ? [] : [state]
    const total = (db.sql(`SELECT count(*) AS n FROM jobs ${where}`).get(...params) as { n: number }).n
    const rows = db
      .sql(`SELECT ${JOB_COLUMNS} FROM jobs ${where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as unknown as Array<StoredJobFields & { id: string }>
    return { items: rows.map((r) => summaryOf(jobRecordOf(r.id, r))), total, offset, limit }
  }

  async jobIdsByPrefix(prefix: string, limit: number): Promise<string[]> {
    // A range on the primary key, not LIKE: ids are lowercase hex, and 'g' sorts after every hex digit.
    const rows = this.#c.db
      .sql('SELECT id FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?')
      .all(prefix, `${prefix}g`, limit) as Array<{ id: string }>
    return rows.map((r) => r.id)
  }

  async end(id: string, state: 'cancelled' | 'expired', reason: string): Promise<JobState> {
    const { db, now } = this.#c
    const ended = db.tx(() => {
      const row = db.sql('SELECT state FROM jobs WHERE id = ?').get(id) as { state: string } | undefined
      if (row === undefined) return undefined
      if (isTerminalJobState(row.state as JobState)) return { state: row.state as JobState, changed: false }
      const t = now()
      const shardState = state === 'cancelled' ? 'cancelled' : 'failed'
      const undecided = db
        .sql(
          "UPDATE shards SET state = ?, claimed = 0, decision = ? WHERE job_id = ? AND state IN ('pending', 'dispatched', 'voting')",
        )
        .run(shardState, JSON.stringify({ reason, decidedAt: t, majority: [], minority: [] }), id)
      const failedDelta = state === 'expired' ? Number(undecided.changes) : 0
      db.sql(
        'UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, reason = ?, failed = failed + ? WHERE id = ?',
      ).run(state, t, t, reason, failedDelta, id)
      return { state, changed: true }
    })
    if (ended === undefined) throw new JobNotFoundError(id)
    if (ended.changed) {
      this.#c.running.abortJob(id, reason)
      this.#c.events.publish({ type: 'job:done', at: now(), jobId: id, state: ended.state })
    }
    return ended.state
  }

  async overdue(t: number, limit: number): Promise<string[]> {
    const rows = this.#c.db
      .sql("SELECT id FROM jobs WHERE state IN ('queued', 'running') AND deadline <= ? LIMIT ?")
      .all(t, limit) as Array<{ id: string }>
    return rows.map((r) => r.id)
  }
}
