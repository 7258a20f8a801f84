/**
 * @quorate/sdk: submit WebAssembly jobs to a Quorate coordinator, follow
 * them live, and get results that the SDK checks for itself.
 *
 * @example
 * ```ts
 * import { createClient } from '@quorate/sdk'
 * const client = createClient({ coordinatorUrl: 'http://127.0.0.1:7700' })
 * const job = await client.submitJob({ wasm, inputs: ['2 1000', '1000 2000'], redundancy: 3 })
 * for (const shard of await job.results()) console.log(shard.index, new TextDecoder().decode(shard.output))
 * ```
 */

export { ErrorCode, isQuorateError, type QuorateError } from '@quorate/protocol'
export { type ClientOptions, createClient, type JobInput, type QuorateClient, toJobSpecJson } from './client.ts'
export { CoordinatorUnreachableError, ResultVerificationError, WaitTimeoutError } from './errors.ts'
export { JobHandle, type ShardResult, type WaitOptions } from './job-handle.ts'
export { readEventStream, type ServerSentEvent } from './sse.ts'
