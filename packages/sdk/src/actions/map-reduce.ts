import type { QuorateClient } from '../client.ts'
import type { WaitOptions } from '../job-handle.ts'
import type { JobInput } from '../job-spec.ts'
import type { ShardResult } from './verify-results.ts'

/** Job options of a map/reduce job: everything in a {@link JobInput} but the module and inputs. */
export type MapReduceJobOptions = Omit<JobInput, 'wasm' | 'inputs'>

export type MapReduceParameters<T> = MapReduceJobOptions &
  WaitOptions & {
    client: Pick<QuorateClient, 'submitJob'>
    /** The WASI module run on every shard (the map). */
    wasm: Uint8Array
    /** Fold one accepted shard's output into the accumulator; called in shard order. */
    reduce: (accumulator: T, output: Uint8Array, shard: number) => T
    /** The accumulator before the first shard. */
    initial: T
  } & (
    | {
        /** One entry per shard, given to the module on stdin. */
        inputs: ReadonlyArray<Uint8Array | string>
        shards?: never
      }
    | {
        /** The same as `inputs`, named for the sharding helpers (`splitLines`, `ranges`, …). */
        shards: ReadonlyArray<Uint8Array | string>
        inputs?: never
      }
  )

export interface MapReduceReturnType<T> {
  /** The fold of every accepted shard's output, in shard order. */
  value: T
  /** True when some shards did not contribute (see `failedShards`). */
  partial: boolean
  /** Shards left out of `value`, in order, with why. */
  failedShards: Array<{ index: number; reason: string }>
  /** The job's id, to look it up later (`quorate status`, the explorer). */
  jobId: string
  /** Every shard's verified result. */
  shards: ShardResult[]
}

/**
 * Submit one job over `inputs` (or `shards`), wait for it, verify its
 * results (see `verifyResults`) and fold the accepted outputs with
 * `reduce`, in shard order. Shards that failed, were cancelled, or were
 * decided with a failure outcome (a trap, a non-zero exit) are left out and
 * listed in `failedShards`; `partial` says whether any were. A result that
 * does not verify throws a `ResultVerificationError` instead.
 *
 * @example
 * ```ts
 * import { createClient, mapReduce, splitLines } from '@quorate/sdk'
 * const client = createClient({ coordinatorUrl: 'http://127.0.0.1:7700' })
 * const { value, partial, failedShards } = await mapReduce({
 *   client,
 *   wasm: await readFile('examples/wordcount/build/wordcount.wasm'),
 *   shards: splitLines(await readFile('book.txt'), { linesPerShard: 1000 }),
 *   initial: new Map<string, number>(),
 *   reduce(counts, output) {
 *     for (const line of new TextDecoder().decode(output).split('\n')) {
 *       const [word, n] = line.split('\t')
 *       if (word) counts.set(word, (counts.get(word) ?? 0) + Number(n))
 *     }
 *     return counts
 *   },
 *   redundancy: 3,
 * })
 * ```
 */
export async function mapReduce<T>(parameters: MapReduceParameters<T>): Promise<MapReduceReturnType<T>> {
  const { client, reduce, initial, inputs, shards, signal, timeout, ...jobOptions } = parameters
  const jobInputs = inputs ?? shards
  const wait: WaitOptions = {}
  if (signal !== undefined) wait.signal = signal
  if (timeout !== undefined) wait.timeout = timeout
  const handle = await client.submitJob({ ...jobOptions, inputs: jobInputs })
  try {
    const results = await handle.results(wait)
    let value = initial
    const failedShards: MapReduceReturnType<T>['failedShards'] = []
    for (const shard of results) {
      if (shard.state === 'accepted' && shard.output !== undefined) {
        value = reduce(value, shard.output, shard.index)
      } else {
        failedShards.push({ index: shard.index, reason: reasonOf(shard) })
      }
    }
    return { value, partial: failedShards.length > 0, failedShards, jobId: handle.id, shards: results }
  } finally {
    handle.close()
  }
}

function reasonOf(shard: ShardResult): string {
  if (shard.state === 'accepted')
    return `accepted with outcome ${shard.outcome ?? 'unknown'}${shard.reason === undefined ? '' : `: ${shard.reason}`}`
  return shard.reason ?? shard.state
}
