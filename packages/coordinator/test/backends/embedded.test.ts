// The embedded backend against the backend compliance suite: a temp data dir per test, no Redis.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { embeddedBackend } from '../../src/backends/embedded/index.ts'
import { backendComplianceTests } from '../../src/testing/index.ts'

backendComplianceTests('embedded', {
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-embedded-'))
    return {
      open: ({ now }) => embeddedBackend({ dataDir: join(dir, 'data'), now }),
      teardown: () => rm(dir, { recursive: true, force: true }),
    }
  },
})
