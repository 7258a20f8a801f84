// The embedded backend against the backend compliance suite: a temp data dir per test, no Redis.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { embeddedBackend } from '../../src/backends/embedded/index.ts'
import { backendComplianceTests } from '../../src/testing/index.ts'

backendComplianceTests('embedded', {
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-embedded-'))
    return {
      open: ({ now }) => embeddedBackend({ dataDir: join(dir, 'data'), now }),
      teardown: () => rm(dir, { recursive: true, force: true }),
      // Read beside the running backend (WAL lets a second connection read).
      async leftovers(jobId) {
        const db = new DatabaseSync(join(dir, 'data', 'scheduler.sqlite'), { readOnly: true })
        try {
          const rows = db
            .prepare(
              `SELECT 'job' AS t FROM jobs WHERE id = $id UNION ALL SELECT 'shard:' || idx FROM shards WHERE job_id = $id
               UNION ALL SELECT 'purged' FROM purged_jobs WHERE id = $id`,
            )
            .all({ id: jobId }) as Array<{ t: string }>
          return rows.map((r) => r.t)
        } finally {
          db.close()
        }
      },
    }
  },
})
