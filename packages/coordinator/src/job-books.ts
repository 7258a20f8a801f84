import type { DecidedShard, ShardDecision, ShardWork } from './backend.ts'
import type { ReplicaRecord, ShardRun } from './shard-run.ts'

/** An accepted shard whole, as a re-check runs it again: its work, votes and outputs. */
export interface AcceptedShard {
  work: ShardWork
  digest: string
  majority: string[]
  replicas: ReplicaRecord[]
  outputs: Map<string, Uint8Array>
}

/** Reads a decided shard back from storage (the backend's `decidedShard`). */
export type ShardReader = (jobId: string, index: number) => Promise<DecidedShard | undefined>

/** A decision waiting for its job's re-checks; a re-check of this very shard replaces it. */
interface HeldDecision {
  index: number
  replace(decision: ShardDecision): void
  release(): void
}

/** The shard indices one provider was in the majority of, as a growing typed array: 4 bytes a shard. */
class IndexList {
  #items = new Int32Array(8)
  #length = 0

  get length(): number {
    return this.#length
  }

  get bytes(): number {
    return this.#items.byteLength
  }

  push(index: number): void {
    if (this.#length === this.#items.length) {
      const grown = new Int32Array(this.#items.length * 2)
      grown.set(this.#items)
      this.#items = grown
    }
    this.#items[this.#length++] = index
  }

  values(): Int32Array {
    return this.#items.subarray(0, this.#length)
  }

  /** Drop every index in `gone`, keeping the order of the rest. */
  drop(gone: ReadonlySet<number>): void {
    let kept = 0
    for (let i = 0; i < this.#length; i++) {
      const index = this.#items[i] as number
      if (!gone.has(index)) this.#items[kept++] = index
    }
    this.#length = kept
  }
}

/** Per-job bookkeeping: accepted shards, and re-checks holding the job open. */
export interface JobBook {
  readonly jobId: string
  /** Accepted shards kept whole: their decisions are not known to be stored yet (or cannot be read back). */
  unstored: Map<number, AcceptedShard>
  /**
   * Accepted shards whose decisions are stored, kept as no more than who was in their majority:
   * each provider of the job (interned to a position) with the shard indices it helped accept.
   * A re-check reads the rest back from storage.
   */
  providers: Map<string, number>
  majorities: IndexList[]
  rechecks: number
  /** Decisions waiting for the job's re-checks before they reach the backend. */
  held: HeldDecision[]
}

/** An accepted shard taken out of its job's book for a re-check: whole, or its index to read back. */
export interface TakenShard {
  book: JobBook
  index: number
  accepted?: AcceptedShard
}

/** What the books hold now, for tests and the soak bench: a count, not a heap measurement. */
export interface BookStats {
  jobs: number
  /** Accepted shards kept whole (each with its work, input and replica records). */
  whole: number
  /** Accepted shards kept as indices only. */
  indexed: number
  /** Bytes of the typed arrays that hold those indices. */
  indexBytes: number
}

/**
 * The accepted shards of each job, kept so a shard can be run again when one of its majority is
 * caught. A shard is kept whole only until its decision is stored; then, when the books can read
 * it back (`reader`), only its index is kept, under each provider of its majority, so what a
 * live job costs here is a few bytes per accepted shard, not its input and replica table.
 */
export class JobBooks {
  readonly #books = new Map<string, JobBook>()
  readonly reader: ShardReader | undefined

  constructor(reader?: ShardReader) {
    this.reader = reader
  }

  /** Keep an accepted shard, so it can be run again if one of its majority is caught. */
  remember(run: ShardRun, digest: string, majority: string[]): void {
    this.#book(run.work.jobId).unstored.set(run.work.index, {
      work: run.work,
      digest,
      majority,
      replicas: run.replicas.filter((r) => r.state === 'done'),
      outputs: run.outputs,
    })
  }

  /**
   * The backend stored an accepted decision: if it is the one kept whole here (same digest and
   * majority), keep only its index from now on. Without a reader, everything is kept whole.
   */
  stored(jobId: string, index: number, digest: string, majority: readonly string[]): void {
    if (this.reader === undefined) return
    const book = this.#books.get(jobId)
    const accepted = book?.unstored.get(index)
    if (book === undefined || accepted === undefined || accepted.digest !== digest) return
    if (accepted.majority.length !== majority.length || !majority.every((p) => accepted.majority.includes(p))) return
    book.unstored.delete(index)
    for (const peerId of majority) {
      let at = book.providers.get(peerId)
      if (at === undefined) {
        at = book.majorities.push(new IndexList()) - 1
        book.providers.set(peerId, at)
      }
      ;(book.majorities[at] as IndexList).push(index)
    }
  }

  /**
   * Hold a decision of `work`'s job while shards of that job are being
   * re-checked; false (nothing held) when none is.
   */
  hold(work: ShardWork, decision: { replace(d: ShardDecision): void; release(): void }): boolean {
    const book = this.#books.get(work.jobId)
    if (book === undefined || book.rechecks === 0) return false
    book.held.push({ index: work.index, replace: decision.replace, release: decision.release })
    return true
  }

  /** Take out every accepted shard `peerId` was in the majority of. */
  takeAcceptedWith(peerId: string): TakenShard[] {
    const taken: TakenShard[] = []
    for (const book of this.#books.values()) {
      for (const [index, accepted] of book.unstored) {
        if (!accepted.majority.includes(peerId)) continue
        book.unstored.delete(index)
        taken.push({ book, index, accepted })
      }
      const at = book.providers.get(peerId)
      if (at === undefined) continue
      const gone = new Set(book.majorities[at]?.values())
      book.majorities[at] = new IndexList()
      // Taken out for every provider of its majority: a shard is re-checked once, and kept again when decided.
      for (const list of book.majorities) if (list.length > 0) list.drop(gone)
      for (const index of gone) taken.push({ book, index })
    }
    return taken
  }

  /** Forget a finished job's book, unless re-checks still hold it; false if they do. */
  forgetJob(jobId: string): boolean {
    const book = this.#books.get(jobId)
    if (book !== undefined && book.rechecks > 0) return false
    this.#books.delete(jobId)
    return true
  }

  stats(): BookStats {
    const stats: BookStats = { jobs: this.#books.size, whole: 0, indexed: 0, indexBytes: 0 }
    for (const book of this.#books.values()) {
      stats.whole += book.unstored.size
      const indexed = new Set<number>()
      for (const list of book.majorities) {
        stats.indexBytes += list.bytes
        for (const index of list.values()) indexed.add(index)
      }
      stats.indexed += indexed.size
    }
    return stats
  }

  #book(jobId: string): JobBook {
    let book = this.#books.get(jobId)
    if (book === undefined) {
      book = { jobId, unstored: new Map(), providers: new Map(), majorities: [], rechecks: 0, held: [] }
      this.#books.set(jobId, book)
    }
    return book
  }
}
