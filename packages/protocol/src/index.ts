/**
 * @quorate/protocol: the contracts every other Quorate package builds on.
 *
 * The job spec schema and its validation, task outcomes and their digests,
 * the messages of the agent/coordinator task channel and their framing, and
 * the error classes and codes, and the sentences that say why a shard waits. No I/O.
 *
 * @example
 * ```ts
 * import { parseJobSpec, jobIdOf } from '@quorate/protocol'
 * const spec = parseJobSpec(JSON.parse(body)) // throws InvalidJobSpecError naming the field
 * const jobId = jobIdOf(spec)                  // same content, same id
 * ```
 */

export * from './api.ts'
export * from './blob-frames.ts'
export * from './blobs.ts'
export { bytesEqual, fromBase64, sha256Hex, toBase64 } from './bytes.ts'
export * from './control.ts'
export * from './errors.ts'
export * from './frames.ts'
export {
  type DecideRule,
  JOB_BOUNDS,
  JOB_DEFAULTS,
  type JobPayment,
  type JobSpec,
  type JobSpecJson,
  jobIdOf,
  jobSpecJsonSchema,
  parseJobSpec,
  shardSeed,
  type TaskLimits,
} from './jobspec.ts'
export * from './messages.ts'
export * from './outcome.ts'
export * from './waiting.ts'
export { fieldError, WireFields } from './wire-fields.ts'
