import type { SchedulerBackend } from '../../backend.ts'
import { ComposedBackend } from '../shared/composed-backend.ts'
import { LocalEventBus } from '../shared/local-event-bus.ts'
import { RunningShards } from '../shared/running-shards.ts'
import { EmbeddedBlobRefStore } from './blob-ref-store.ts'
import { SchedulerDatabase } from './database.ts'
import { EmbeddedJobStore } from './job-store.ts'
import { EmbeddedProviderStore } from './provider-store.ts'
import { EmbeddedRetentionStore } from './retention-store.ts'
import { EmbeddedShardQueue } from './shard-queue.ts'
import { TurnWriter } from './turn-writer.ts'

export interface EmbeddedBackendOptions {
  /** The coordinator's data dir; the database is `<dataDir>/scheduler.sqlite`. */
  dataDir: string
  now?: () => number
}

/**
 * The embedded backend: everything in one SQLite file in the coordinator's
 * data dir (Node's built-in `node:sqlite`), so a laptop needs no server and
 * a coordinator restarted on the same data dir carries on with its jobs.
 * One process owns a data dir at a time (a lock file says which).
 */
export class EmbeddedBackend extends ComposedBackend {
  readonly kind = 'embedded' as const
  readonly #db: SchedulerDatabase
  readonly #queue: EmbeddedShardQueue
  readonly #writer: TurnWriter
  readonly #running: RunningShards

  constructor(options: EmbeddedBackendOptions) {
    const now = options.now ?? Date.now
    const db = new SchedulerDatabase(options.dataDir)
    const events = new LocalEventBus()
    const running = new RunningShards()
    const writer = new TurnWriter(db, events, now)
    const queue = new EmbeddedShardQueue({ db, writer, running, now })
    const jobs = new EmbeddedJobStore({ db, events, running, now, claimInTx: () => queue.claimInTx() })
    super({
      jobs,
      retention: new EmbeddedRetentionStore(db),
      queue,
      providers: new EmbeddedProviderStore(db, writer),
      events,
      blobRefs: new EmbeddedBlobRefStore(db),
    })
    this.#db = db
    this.#queue = queue
    this.#writer = writer
    this.#running = running
  }

  async start(): Promise<void> {
    this.#db.open()
  }

  async stop(): Promise<void> {
    this.#queue.stop()
    this.#running.abortAll('coordinator stopping')
    // Decisions already made are written, not dropped.
    if (this.#db.isOpen) await this.#writer.flush().catch(() => {})
    this.#db.close()
  }
}

export function embeddedBackend(options: EmbeddedBackendOptions): SchedulerBackend {
  return new EmbeddedBackend(options)
}
