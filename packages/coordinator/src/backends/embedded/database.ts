import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { ErrorCode, QuorateError } from '@quorate/protocol'

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
CREATE INDEX IF NOT EXISTS jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS purged_jobs (id TEXT PRIMARY KEY, purged_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS purged_by_time ON purged_jobs (purged_at);
CREATE TABLE IF NOT EXISTS modules (sha TEXT PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blob_refs (sha TEXT NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY (sha, job_id));
CREATE INDEX IF NOT EXISTS blob_refs_by_job ON blob_refs (job_id);
CREATE TABLE IF NOT EXISTS blob_homes (sha TEXT PRIMARY KEY, home TEXT NOT NULL);
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

/** Columns of a job row, named as `StoredJobFields` names them. */
export const JOB_COLUMNS =
  'id, state, created_at AS createdAt, updated_at AS updatedAt, finished_at AS finishedAt, deadline, spec, total, accepted, failed, reason'

/** SQL for a shard's position in the queue: runs that release a shard send it to the back. */
export const seqAt = (t: number) => t * 1_000_000

/**
 * The embedded backend's SQLite file in the coordinator's data dir. One
 * process owns a data dir at a time (a lock file says which); opening it
 * frees every shard an earlier process had claimed.
 */
export class SchedulerDatabase {
  readonly #dataDir: string
  readonly #lockFile: string
  #db: DatabaseSync | undefined
  // node:sqlite compiles SQL on every prepare(); the hot paths reuse compiled statements.
  readonly #statements = new Map<string, StatementSync>()

  constructor(dataDir: string) {
    this.#dataDir = dataDir
    this.#lockFile = join(dataDir, 'scheduler.lock')
  }

  get isOpen(): boolean {
    return this.#db !== undefined
  }

  open(): void {
    mkdirSync(this.#dataDir, { recursive: true })
    takeLock(this.#lockFile)
    const db = new DatabaseSync(join(this.#dataDir, 'scheduler.sqlite'))
    db.exec(SCHEMA)
    // This process owns the data dir now: whatever an earlier process had claimed is free again.
    db.exec('UPDATE shards SET claimed = 0 WHERE claimed = 1')
    this.#db = db
  }

  close(): void {
    this.#statements.clear()
    this.#db?.close()
    this.#db = undefined
    rmSync(this.#lockFile, { force: true })
  }

  sql(text: string): StatementSync {
    let statement = this.#statements.get(text)
    if (statement === undefined) this.#statements.set(text, (statement = this.#database().prepare(text)))
    return statement
  }

  /** Run `fn` in one write transaction. */
  tx<T>(fn: () => T): T {
    const d = this.#database()
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

  #database(): DatabaseSync {
    if (this.#db === undefined) throw new QuorateError(ErrorCode.INTERNAL, 'the embedded backend is not started')
    return this.#db
  }
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
