import { JOB_DEFAULTS, type JobSpecJson, type TaskLimits, toBase64 } from '@quorate/protocol'

/** A job as the SDK takes it: bytes as bytes, strings as UTF-8. */
export interface JobInput {
  /** The WASI preview1 module, or a blob holding it (uploaded with `uploadBlob`). */
  wasm: Uint8Array | { blob: string; size: number }
  /**
   * One entry per shard, given to the module on stdin: bytes, text, or a blob uploaded before
   * (`uploadBlob`, `uploadFileBlobs`) for inputs too large to travel in the JSON body.
   */
  inputs: ReadonlyArray<Uint8Array | string | { blob: string; size: number }>
  args?: string[]
  env?: Record<string, string>
  /** Replicas per shard. @defaultValue 3 */
  redundancy?: number
  /** Matching results that decide a shard. @defaultValue a strict majority of redundancy */
  quorum?: number
  /** Most replicas per shard when results disagree. @defaultValue 2 × redundancy − 1 */
  maxReplicas?: number
  /**
   * How shards are decided: `all` waits for every replica and escalates any
   * dissent; `quorum` takes the first `quorum` matching results. @defaultValue 'all'
   */
  decide?: 'all' | 'quorum'
  limits?: Partial<TaskLimits>
  /** Absolute deadline (Date or Unix ms). */
  deadline?: Date | number
  name?: string
  /**
   * For coordinators that settle on a chain, when you fund the job yourself:
   * the Escrow job funded for this spec's hash (`jobIdOf(parseJobSpec(spec))`)
   * naming the coordinator. A client with a `wallet` funds it for you instead.
   */
  payment?: { escrowJobId: string }
  /** The owner key (`ed25519:<hex>`). @defaultValue the submitting client's `ownerKey` */
  owner?: string
}

const encoder = new TextEncoder()

/** Turn a {@link JobInput} into the JSON job spec the coordinator accepts. */
export function toJobSpecJson(job: JobInput): JobSpecJson {
  const spec: JobSpecJson = {
    version: 1,
    module:
      job.wasm instanceof Uint8Array ? { wasm: toBase64(job.wasm) } : { blob: job.wasm.blob, size: job.wasm.size },
    inputs: job.inputs.map((i) =>
      typeof i === 'string'
        ? toBase64(encoder.encode(i))
        : i instanceof Uint8Array
          ? toBase64(i)
          : { blob: i.blob, size: i.size },
    ),
  }
  if (job.args !== undefined) spec.args = job.args
  if (job.env !== undefined) spec.env = job.env
  if (job.redundancy !== undefined) spec.redundancy = job.redundancy
  if (job.quorum !== undefined) spec.quorum = job.quorum
  if (job.maxReplicas !== undefined) spec.maxReplicas = job.maxReplicas
  if (job.decide !== undefined) spec.decide = job.decide
  if (job.limits !== undefined) spec.limits = job.limits
  if (job.deadline !== undefined) spec.deadline = job.deadline instanceof Date ? job.deadline.getTime() : job.deadline
  if (job.name !== undefined) spec.name = job.name
  if (job.payment !== undefined) spec.payment = { escrowJobId: job.payment.escrowJobId }
  if (job.owner !== undefined) spec.owner = job.owner
  return spec
}

/** The quorum a spec asks for, with the coordinator's default (the smallest strict majority of redundancy). */
export function expectedQuorumOf(spec: JobSpecJson): number {
  return spec.quorum ?? Math.floor((spec.redundancy ?? JOB_DEFAULTS.redundancy) / 2) + 1
}
