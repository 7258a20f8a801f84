// Outputs held as blobs, on the executor's side: what a run keeps of one until its shard is
// decided, and which results naming one may count. The fetch after the decision is output-fetch.ts.
import type { OkOutcome, OutputBlobRef, TaskLimits, TaskOutcome } from '@quorate/protocol'
import type { ShardDecision } from './backend.ts'

/**
 * Stands in a run's `outputs` (digest → bytes) for an output its providers hold as a blob: no bytes,
 * just the reference. Kept in the same map so a re-check after a quarantine carries it too.
 */
export class OutputBlobMark extends Uint8Array {
  readonly ref: OutputBlobRef

  constructor(ref: OutputBlobRef) {
    super(0)
    this.ref = { sha256: ref.sha256, size: ref.size }
  }
}

/** What a run keeps of an `ok` outcome for its digest: the bytes, or the mark of its blob. */
export function keptOutput(outcome: OkOutcome): Uint8Array {
  return outcome.outputBlob === undefined ? outcome.output : new OutputBlobMark(outcome.outputBlob)
}

/** The accepted output as a decision carries it: the bytes inline, or the blob to fetch. */
export function decisionOutput(kept: Uint8Array | undefined): Pick<ShardDecision, 'output' | 'outputBlob'> {
  if (kept === undefined) return {}
  if (kept instanceof OutputBlobMark) return { outputBlob: kept.ref }
  return { output: kept }
}

/**
 * The outcome as it may count: a result naming its output as a blob is taken as `crashed` (not
 * counted, placed again) when the blob is over the job's output limit (the runtime enforces the limit
 * inline; a blob's size is only the agent's word), or when the agent serves no blobs (the output
 * could never be fetched).
 */
export function countableOutcome(
  outcome: TaskOutcome,
  limits: TaskLimits,
  blobAddrs: readonly string[] | undefined,
): TaskOutcome {
  const blob = outcome.kind === 'ok' ? outcome.outputBlob : undefined
  if (blob === undefined) return outcome
  if (blob.size > limits.outputBytes) {
    return {
      kind: 'crashed',
      message: `output blob of ${blob.size} bytes is over the job's output limit of ${limits.outputBytes}`,
    }
  }
  if (blobAddrs === undefined || blobAddrs.length === 0) {
    return { kind: 'crashed', message: 'output sent as a blob by a provider that serves no blobs' }
  }
  return outcome
}
