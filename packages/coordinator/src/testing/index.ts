/**
 * @quorate/coordinator/testing: the compliance suite every `SchedulerBackend`
 * must pass (the pattern of js-libp2p's interface compliance tests). It is
 * written with vitest's `describe`/`it`; call it from a vitest test file.
 *
 * @example
 * ```ts
 * import { embeddedBackend } from '@quorate/coordinator'
 * import { backendComplianceTests } from '@quorate/coordinator/testing'
 *
 * backendComplianceTests('embedded', {
 *   async setup() {
 *     const dir = await mkdtemp(join(tmpdir(), 'backend-'))
 *     return {
 *       open: ({ now }) => embeddedBackend({ dataDir: dir, now }),
 *       teardown: () => rm(dir, { recursive: true, force: true }),
 *     }
 *   },
 * })
 * ```
 */
import { afterEach, beforeEach, describe } from 'vitest'
import type { SchedulerBackend } from '../backend.ts'
import { blobRefTests } from './blob-ref-tests.ts'
import { jobStoreTests } from './job-store-tests.ts'
import { providerAndEventTests } from './provider-and-event-tests.ts'
import { recoveryTests } from './recovery-tests.ts'
import { retentionTests } from './retention-tests.ts'
import { shardPageTests } from './shard-page-tests.ts'
import { shardQueueTests } from './shard-queue-tests.ts'
import type { SuiteContext } from './suite-context.ts'

export type { SuiteContext } from './suite-context.ts'

/** One test's storage, and how to open backends over it. */
export interface BackendHarness {
  /**
   * A new, unstarted backend over this test's storage. Each call is another
   * coordinator on the same storage, or the same one restarted.
   */
  open(options: { now: () => number }): SchedulerBackend
  /** Remove the test's storage; every backend opened has been stopped by then. */
  teardown(): Promise<void>
  /** What the storage still holds of a job: row or key names (a tombstone's name says "purged"). */
  leftovers?(jobId: string): Promise<string[]>
}

export interface BackendComplianceOptions {
  /** Fresh storage for one test (a temp dir, a Redis key prefix). */
  setup(): Promise<BackendHarness>
  /**
   * Whether a backend opened after another stopped runs the shards that one
   * left undecided (a restart on the same data dir, a failover on Redis).
   * @defaultValue true
   */
  recovers?: boolean
}

/** Register the compliance suite for the backend `name`. */
export function backendComplianceTests(name: string, options: BackendComplianceOptions): void {
  describe(`${name} backend compliance`, () => {
    let harness: BackendHarness | undefined
    const opened: SchedulerBackend[] = []
    const stopped = new Set<SchedulerBackend>()

    beforeEach(async () => {
      harness = await options.setup()
    })
    afterEach(async () => {
      for (const backend of opened.splice(0)) if (!stopped.has(backend)) await backend.stop()
      stopped.clear()
      await harness?.teardown()
      harness = undefined
    })

    const context: SuiteContext = {
      async open(now = Date.now) {
        if (harness === undefined) throw new Error('open() is only for use inside a test')
        const backend = harness.open({ now })
        opened.push(backend)
        await backend.start()
        return backend
      },
      async stop(backend) {
        stopped.add(backend)
        await backend.stop()
      },
      async leftovers(jobId) {
        return harness?.leftovers?.(jobId)
      },
    }

    jobStoreTests(context)
    shardPageTests(context)
    shardQueueTests(context)
    providerAndEventTests(context)
    retentionTests(context)
    blobRefTests(context)
    if (options.recovers !== false) recoveryTests(context)
  })
}
