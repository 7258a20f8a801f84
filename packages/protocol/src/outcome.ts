// Also exported alone as `@quorate/protocol/outcome` (no zod), so the runtime's worker threads load only this.
import { sha256Hex } from './bytes.ts'

/**
 * How a task ended. Deterministic outcomes are identical on every honest
 * provider and are voted on; non-deterministic ones (`timeout`, `crashed`)
 * say something about the provider, not the job, so the replica is retried
 * elsewhere instead of counted.
 */
export type TaskOutcome =
  | OkOutcome
  | OutOfFuelOutcome
  | TrapOutcome
  | OutputLimitOutcome
  | InvalidModuleOutcome
  | ExitOutcome
  | TimeoutOutcome
  | CrashedOutcome

export interface OkOutcome {
  kind: 'ok'
  /** Everything the module wrote to stdout; empty when it travels as {@link OkOutcome.outputBlob}. */
  output: Uint8Array
  fuelUsed: number
  /**
   * A large output kept by the agent as a blob instead of sent inline: its sha256 (of the whole
   * output, so the vote digest is the same as inline) and size. The coordinator fetches it once
   * the shard is decided.
   */
  outputBlob?: OutputBlobRef
}

/** An output held as a content-addressed blob: the sha256 of its bytes and their number. */
export interface OutputBlobRef {
  sha256: string
  size: number
}

export interface OutOfFuelOutcome {
  kind: 'out_of_fuel'
  fuelUsed: number
}

/** Kinds of WebAssembly trap, normalised so that replicas on different engines agree. */
export type TrapKind =
  | 'unreachable'
  | 'memory_out_of_bounds'
  | 'call_stack_exhausted'
  | 'integer_divide_by_zero'
  | 'integer_overflow'
  | 'invalid_conversion'
  | 'indirect_call'
  | 'table_out_of_bounds'
  | 'host'
  | 'other'

export interface TrapOutcome {
  kind: 'trap'
  trap: TrapKind
  fuelUsed: number
}

export interface OutputLimitOutcome {
  kind: 'output_limit'
  /** The job's output limit in bytes that the module tried to exceed. */
  limit: number
  fuelUsed: number
}

export interface InvalidModuleOutcome {
  kind: 'invalid_module'
  /** Human-readable reason, e.g. the list of unsupported imports. Deterministic: derived from the module bytes only. */
  reason: string
}

export interface ExitOutcome {
  kind: 'exit'
  /** Non-zero exit status passed to `proc_exit`. (Exit status 0 is an `ok` outcome.) */
  code: number
  fuelUsed: number
}

export interface TimeoutOutcome {
  kind: 'timeout'
  /** Wall-clock limit that was hit. */
  timeoutMs: number
}

export interface CrashedOutcome {
  kind: 'crashed'
  message: string
}

export type DeterministicOutcome = Exclude<TaskOutcome, TimeoutOutcome | CrashedOutcome>

export const DETERMINISTIC_KINDS = ['ok', 'out_of_fuel', 'trap', 'output_limit', 'invalid_module', 'exit'] as const

/** Every outcome kind the protocol knows; a result naming any other kind is refused on the wire. */
export const OUTCOME_KINDS = [
  ...DETERMINISTIC_KINDS,
  'timeout',
  'crashed',
] as const satisfies readonly TaskOutcome['kind'][]

/** Every trap kind the protocol knows. */
export const TRAP_KINDS = [
  'unreachable',
  'memory_out_of_bounds',
  'call_stack_exhausted',
  'integer_divide_by_zero',
  'integer_overflow',
  'invalid_conversion',
  'indirect_call',
  'table_out_of_bounds',
  'host',
  'other',
] as const satisfies readonly TrapKind[]

// Compile-time checks that the lists above name every kind of the types (adding a kind without listing it fails the build).
type MissingOutcomeKind = Exclude<TaskOutcome['kind'], (typeof OUTCOME_KINDS)[number]>
type MissingTrapKind = Exclude<TrapKind, (typeof TRAP_KINDS)[number]>
const outcomeKindsComplete: [MissingOutcomeKind, MissingTrapKind] extends [never, never] ? true : never = true
void outcomeKindsComplete

export function isDeterministic(outcome: TaskOutcome): outcome is DeterministicOutcome {
  return outcome.kind !== 'timeout' && outcome.kind !== 'crashed'
}

/**
 * The digest replicas vote on.
 *
 * For `ok` it is the plain sha256 of the output, so anyone holding the
 * output can check it with any sha256 tool. For every other deterministic
 * outcome it is the sha256 of a domain-separated canonical encoding of the
 * outcome (fuelUsed included), so deterministic failures are votable too.
 */
export function outcomeDigest(outcome: DeterministicOutcome): string {
  // An output sent as a blob is named by the sha256 of its bytes: the same digest as inline, so
  // replicas that answered one way or the other still agree.
  if (outcome.kind === 'ok') return outcome.outputBlob?.sha256 ?? sha256Hex(outcome.output)
  return sha256Hex(`quorate:outcome:v1\n${canonicalFailure(outcome)}`)
}

function canonicalFailure(outcome: Exclude<DeterministicOutcome, OkOutcome>): string {
  switch (outcome.kind) {
    case 'out_of_fuel':
      return `out_of_fuel\n${outcome.fuelUsed}`
    case 'trap':
      return `trap\n${outcome.trap}\n${outcome.fuelUsed}`
    case 'output_limit':
      return `output_limit\n${outcome.limit}\n${outcome.fuelUsed}`
    case 'invalid_module':
      return `invalid_module\n${outcome.reason}`
    case 'exit':
      return `exit\n${outcome.code}\n${outcome.fuelUsed}`
  }
}

/** One line describing an outcome, for logs and CLI output. */
export function describeOutcome(outcome: TaskOutcome): string {
  switch (outcome.kind) {
    case 'ok':
      if (outcome.outputBlob !== undefined)
        return `ok (${outcome.outputBlob.size} bytes as a blob, fuel ${outcome.fuelUsed})`
      return `ok (${outcome.output.byteLength} bytes, fuel ${outcome.fuelUsed})`
    case 'out_of_fuel':
      return `out of fuel after ${outcome.fuelUsed}`
    case 'trap':
      return `trap: ${outcome.trap}`
    case 'output_limit':
      return `output over the ${outcome.limit}-byte limit`
    case 'invalid_module':
      return `invalid module: ${outcome.reason}`
    case 'exit':
      return `exited with status ${outcome.code}`
    case 'timeout':
      return `timed out after ${outcome.timeoutMs} ms`
    case 'crashed':
      return `crashed: ${outcome.message}`
  }
}
