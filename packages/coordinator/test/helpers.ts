import { type AssignMessage, parseJobSpec, type ResultMessage, toBase64 } from '@quorate/protocol'
import type { AgentLink, ShardWork } from '../src/index.ts'
import { storedSpecOf } from '../src/jobs.ts'

const MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

/** A stand-in agent for executor unit tests: records what the executor sends it. */
export class RecordingLink implements AgentLink {
  readonly assigned: AssignMessage[] = []
  readonly cancelled: string[] = []
  readonly region: string | undefined
  readonly zone: string | undefined
  constructor(
    readonly peerId: string,
    readonly capacity = 4,
    readonly operator: string | undefined = undefined,
    topology: { region?: string; zone?: string } = {},
  ) {
    this.region = topology.region
    this.zone = topology.zone
  }
  assign(message: AssignMessage): void {
    this.assigned.push(message)
  }
  cancel(assignmentId: string): void {
    this.cancelled.push(assignmentId)
  }
  /** Assignments not yet answered or cancelled. */
  open(answered: Set<string>): AssignMessage[] {
    return this.assigned.filter((m) => !answered.has(m.assignmentId) && !this.cancelled.includes(m.assignmentId))
  }
}

/** Shard `index` of job `jobId`, with spec fields from `extra` (as a job spec's JSON). */
export function workFor(jobId: string, index = 0, extra: Record<string, unknown> = {}): ShardWork {
  const spec = parseJobSpec({ module: { wasm: toBase64(MODULE) }, inputs: [toBase64(new Uint8Array([1]))], ...extra })
  return {
    jobId,
    index,
    input: spec.inputs[0] as Uint8Array,
    spec: storedSpecOf(spec),
    module: spec.module,
    deadline: Date.now() + 60_000,
    run: 1,
    fence: '1',
  }
}

/** Jobs made by `work()` are `job-1`, `job-2`, ...: this is the last one's number. */
export let shardSeq = 0

/** Shard 0 of a new job. */
export function work(extra: Record<string, unknown> = {}): ShardWork {
  return workFor(`job-${++shardSeq}`, 0, extra)
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
export const never: AbortSignal = new AbortController().signal

/**
 * A seeded stand-in for Math.random (mulberry32, as test/helpers/random.ts at the root):
 * the same seed gives the same placements on every run, so a failing case replays exactly.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
