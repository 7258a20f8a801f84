import { type AssignMessage, parseJobSpec, type ResultMessage, toBase64 } from '@quorate/protocol'
import type { AgentLink, ShardWork } from '../src/index.ts'

const MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

/** A stand-in agent for this unit test: records what the executor sends it. */
export class RecordingLink implements AgentLink {
  readonly assigned: AssignMessage[] = []
  readonly cancelled: string[] = []
  constructor(
    readonly peerId: string,
    readonly capacity = 4,
    readonly operator: string | undefined = undefined,
  ) {}
  assign(message: AssignMessage): void {
    this.assigned.push(message)
  }
  cancel(assignmentId: string): void {
    this.cancelled.push(assignmentId)
  }
}

let shardSeq = 0
export function work(extra: Record<string, unknown> = {}): ShardWork {
  const spec = parseJobSpec({ module: { wasm: toBase64(MODULE) }, inputs: [toBase64(new Uint8Array([1]))], ...extra })
  return {
    jobId: `job-${++shardSeq}`,
    index: 0,
    input: spec.inputs[0] as Uint8Array,
    spec: {
      moduleSha256: spec.module.sha256,
      args: spec.args,
      env: spec.env,
      redundancy: spec.redundancy,
      quorum: spec.quorum,
      maxReplicas: spec.maxReplicas,
      limits: spec.limits,
    },
    module: spec.module,
    deadline: Date.now() + 60_000,
    run: 1,
    fence: '1',
  }
}

export function ok(assignmentId: string, text: string): ResultMessage {
  return {
    type: 'result',
    assignmentId,
    outcome: { kind: 'ok', output: new TextEncoder().encode(text), fuelUsed: 1 },
    digest: null,
    stderr: new Uint8Array(0),
    durationMs: 1,
  }
}

export const tick = () => new Promise((r) => setImmediate(r))
