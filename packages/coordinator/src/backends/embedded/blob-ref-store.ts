import type { BlobHome, BlobRefStore } from '../../backend.ts'
import type { SchedulerDatabase } from './database.ts'

/** Which jobs refer to which blobs, in two small tables of the SQLite file. */
export class EmbeddedBlobRefStore implements BlobRefStore {
  readonly #db: SchedulerDatabase

  constructor(db: SchedulerDatabase) {
    this.#db = db
  }

  async referBlobs(jobId: string, sha256s: string[], home?: BlobHome): Promise<void> {
    const db = this.#db
    db.tx(() => {
      for (const sha of sha256s) {
        db.sql('INSERT OR IGNORE INTO blob_refs (sha, job_id) VALUES (?, ?)').run(sha, jobId)
        if (home !== undefined) {
          db.sql('INSERT OR REPLACE INTO blob_homes (sha, home) VALUES (?, ?)').run(sha, JSON.stringify(home))
        }
      }
    })
  }

  async releaseBlobs(jobId: string): Promise<string[]> {
    const db = this.#db
    return db.tx(() => {
      const shas = (db.sql('SELECT sha FROM blob_refs WHERE job_id = ?').all(jobId) as Array<{ sha: string }>).map(
        (r) => r.sha,
      )
      db.sql('DELETE FROM blob_refs WHERE job_id = ?').run(jobId)
      const unreferenced: string[] = []
      for (const sha of shas) {
        if (db.sql('SELECT 1 FROM blob_refs WHERE sha = ? LIMIT 1').get(sha) !== undefined) continue
        db.sql('DELETE FROM blob_homes WHERE sha = ?').run(sha)
        unreferenced.push(sha)
      }
      return unreferenced
    })
  }

  async referencedBlobs(sha256s: string[]): Promise<Set<string>> {
    const held = new Set<string>()
    const stmt = this.#db.sql('SELECT 1 FROM blob_refs WHERE sha = ? LIMIT 1')
    for (const sha of sha256s) if (stmt.get(sha) !== undefined) held.add(sha)
    return held
  }

  async blobHome(sha256: string): Promise<BlobHome | undefined> {
    const row = this.#db.sql('SELECT home FROM blob_homes WHERE sha = ?').get(sha256) as { home: string } | undefined
    return row === undefined ? undefined : (JSON.parse(row.home) as BlobHome)
  }
}
