/**
 * Thread entry point: instantiate a prepared module in a fresh instance,
 * run it to completion under the WASI host, and turn however it ended into
 * a {@link TaskOutcome}. Loaded by piscina from dist/worker.js.
 */

import { threadId } from 'node:worker_threads'
// The outcome alone, not the package's front door: a thread need not load the job spec schema (zod).
import { outcomeDigest, type TaskOutcome, type TrapKind } from '@quorate/protocol/outcome'
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina'
import { HOST_MODULE, SLOT_DONE, SLOT_STARTED, SLOT_WAITING, STACK_EXPORT, START_EXPORT } from './constants.ts'
import type { SharedSlots } from './pool.ts'
import { INVALID_WASM, prepareModule } from './prepare.ts'
import { controlImport, fillTank, fuelLeft, stopRequested } from './refuel.ts'
import type { Compiled, RunRequest, RunResponse } from './types.ts'
import { OutputLimitExceeded, ProcExit, WASI_MODULE, Wasi } from './wasi.ts'

/** Parse, check, instrument and compile a module (once per sha256, called by the pool's cache). */
export async function prepare(bytes: Uint8Array): Promise<Compiled> {
  const prepared = prepareModule(bytes, { validate: false })
  if (!prepared.ok) return prepared
  try {
    const module = await WebAssembly.compile(prepared.bytes as Uint8Array<ArrayBuffer>)
    return { ok: true, module, memory: prepared.memory, hasStart: prepared.hasStart }
  } catch {
    // The rewrite keeps every index and type, so this fails exactly when the original does.
    return { ok: false, reason: INVALID_WASM }
  }
}

const shared = workerData as SharedSlots

/**
 * Run a batch of tasks in order, each in a fresh instance. One message each way carries the whole batch;
 * the pool tracks each task through the shared slot states and start times.
 */
export default function runBatch(requests: RunRequest[]): RunResponse[] {
  const responses = requests.map(runTask)
  // Moving a buffer costs more than copying a small one: move only large outputs.
  const large: ArrayBufferLike[] = []
  for (const { outcome } of responses) {
    if (outcome.kind === 'ok' && outcome.output.byteLength >= MOVE_THRESHOLD) large.push(outcome.output.buffer)
  }
  if (large.length === 0) return responses
  return move({ [transferableSymbol]: large, [valueSymbol]: responses } as never) as unknown as RunResponse[]
}

function runTask(request: RunRequest): RunResponse {
  const response = runClaimed(request)
  // The pool stops waiting to terminate this thread for the task once it is done (see pool-batch.ts).
  Atomics.store(shared.states, request.slot, SLOT_DONE)
  return response
}

function runClaimed(request: RunRequest): RunResponse {
  // Cancelled while it waited behind another task on this thread: the pool no longer wants it. Claimed in
  // one step, so the pool cannot cancel it in between and then lose track of a task that runs anyway.
  if (Atomics.compareExchange(shared.states, request.slot, SLOT_WAITING, SLOT_STARTED) !== SLOT_WAITING) {
    return {
      outcome: { kind: 'crashed', message: 'cancelled' },
      digest: null,
      stderr: new Uint8Array(0),
      durationMs: 0,
      threadId,
    }
  }
  shared.starts[request.slot] = performance.timeOrigin + performance.now()
  const started = performance.now()
  const { limits } = request
  const wasi = new Wasi({
    args: request.args,
    env: request.env,
    stdin: request.stdin,
    outputLimit: limits.outputBytes,
    stderrLimit: limits.stderrBytes,
    seed: Buffer.from(request.seed, 'hex'),
  })
  let outcome: TaskOutcome
  let exports: WebAssembly.Exports | undefined
  let stack: WebAssembly.Global | undefined
  try {
    const memory = request.memory === undefined ? undefined : new WebAssembly.Memory(request.memory)
    const imports: WebAssembly.Imports = { [WASI_MODULE]: wasi.imports() as WebAssembly.ModuleImports }
    imports[HOST_MODULE] = controlImport(shared.control)
    if (memory !== undefined) imports[HOST_MODULE].memory = memory
    const instance = new WebAssembly.Instance(request.module, imports)
    wasi.memory = memory
    exports = instance.exports
    stack = exports[STACK_EXPORT] as WebAssembly.Global
    fillTank(exports, request.slot, limits.fuel, request.fuelSlice)
    if (request.hasStart) (exports[START_EXPORT] as () => void)()
    ;(exports._start as () => void)()
    outcome = { kind: 'ok', output: new Uint8Array(0), fuelUsed: 0 }
  } catch (err) {
    outcome = classify(err, stack)
  }
  // Stopped by the pool (a budget check trapped): nobody waits for its outcome, and it is no out-of-fuel.
  if (stopRequested(shared.states, request.slot)) outcome = STOPPED
  else outcome = settle(outcome, wasi, exports, limits.fuel, limits.outputBytes)
  const stderr = wasi.stderr.bytes()
  return {
    outcome,
    digest: outcome.kind === 'crashed' || outcome.kind === 'timeout' ? null : outcomeDigest(outcome),
    stderr,
    durationMs: performance.now() - started,
    threadId,
  }
}

const MOVE_THRESHOLD = 64 * 1024
const STOPPED: TaskOutcome = { kind: 'crashed', message: 'cancelled' }

/** Fill in fuelUsed and output. Running out of fuel wins over however else the run ended. */
function settle(
  outcome: TaskOutcome,
  wasi: Wasi,
  exports: WebAssembly.Exports | undefined,
  limit: number,
  outputLimit: number,
): TaskOutcome {
  const left = exports === undefined ? BigInt(limit) : fuelLeft(exports)
  // The counter as the module left it: past the limit by at most one straight-line segment when out of fuel.
  const fuelUsed = Number(BigInt(limit) - left)
  if (left < 0n) return { kind: 'out_of_fuel', fuelUsed }
  switch (outcome.kind) {
    case 'ok':
      return { kind: 'ok', output: wasi.stdout.bytes(), fuelUsed }
    case 'output_limit':
      return { kind: 'output_limit', limit: outputLimit, fuelUsed }
    case 'trap':
    case 'exit':
      return { ...outcome, fuelUsed }
    default:
      return outcome
  }
}

function classify(err: unknown, stack: WebAssembly.Global | undefined): TaskOutcome {
  if (err instanceof ProcExit) {
    return err.code === 0
      ? { kind: 'ok', output: new Uint8Array(0), fuelUsed: 0 }
      : { kind: 'exit', code: err.code, fuelUsed: 0 }
  }
  if (err instanceof OutputLimitExceeded) return { kind: 'output_limit', limit: 0, fuelUsed: 0 }
  if (stack !== undefined && (stack.value as number) < 0) return trap('call_stack_exhausted')
  if (err instanceof RangeError && /call stack/i.test(err.message)) return trap('call_stack_exhausted')
  if (err instanceof WebAssembly.RuntimeError) return trap(trapKind(err.message))
  if (err instanceof WebAssembly.LinkError || err instanceof WebAssembly.CompileError) {
    return { kind: 'crashed', message: `could not instantiate the prepared module: ${err.message}` }
  }
  // An exception from the host functions: deterministic (same inputs, same host code).
  return trap('host')
}

function trap(kind: TrapKind): TaskOutcome {
  return { kind: 'trap', trap: kind, fuelUsed: 0 }
}

// V8's trap messages, normalised so replicas on other engines can agree.
const TRAP_MESSAGES: [RegExp, TrapKind][] = [
  [/unreachable/i, 'unreachable'],
  [/memory access out of bounds|data segment .*out of bounds/i, 'memory_out_of_bounds'],
  [/divide by zero|remainder by zero/i, 'integer_divide_by_zero'],
  [/divide result unrepresentable|integer overflow/i, 'integer_overflow'],
  [/float unrepresentable|invalid conversion/i, 'invalid_conversion'],
  [/signature mismatch|null function|indirect call/i, 'indirect_call'],
  [
    /table index is out of bounds|table access out of bounds|element segment .*out of bounds|table .*out of bounds/i,
    'table_out_of_bounds',
  ],
]

function trapKind(message: string): TrapKind {
  for (const [pattern, kind] of TRAP_MESSAGES) if (pattern.test(message)) return kind
  return 'other'
}
