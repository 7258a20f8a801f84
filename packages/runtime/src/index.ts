/**
 * @quorate/runtime: sandboxed, deterministic, metered WebAssembly (WASI
 * preview1) execution on a piscina worker-thread pool.
 *
 * Modules are checked and instrumented once per sha256 (fuel metering, a
 * deterministic stack budget, NaN canonicalisation, a capped memory), then
 * run in a fresh instance per task against Quorate's own closed WASI world.
 * Every way a task ends is a {@link TaskOutcome}; deterministic ones come
 * with the digest replicas vote on.
 *
 * @example
 * ```ts
 * import { createRuntimePool } from '@quorate/runtime'
 * const pool = createRuntimePool({ threads: 2 })
 * const { outcome, digest } = await pool.run({
 *   module: { sha256, bytes },
 *   args: [], env: {}, stdin: new TextEncoder().encode('1 1000'),
 *   limits: { timeoutMs: 10_000, memoryMiB: 64, outputBytes: 1 << 20, stderrBytes: 1 << 16, fuel: 1e10 },
 *   seed: '00'.repeat(32),
 * })
 * await pool.close()
 * ```
 */
import type { TaskLimits } from '@quorate/protocol'
import { memoryFor, prepareModule } from './prepare.ts'

export {
  createRuntimePool,
  type RuntimePool,
  type RuntimePoolOptions,
  type RuntimeTask,
  TaskAbortedError,
  type TaskRunResult,
} from './pool.ts'
export { FIXED_CLOCK_NS, WASI_FUNCTIONS } from './wasi.ts'

/**
 * Static check used by the coordinator at submission: the same checks a
 * provider's pool applies (format, imports, memory against the limits,
 * supported instructions, validation), without running anything.
 */
export function inspectModule(bytes: Uint8Array, limits: TaskLimits): { ok: true } | { ok: false; reason: string } {
  const prepared = prepareModule(bytes)
  if (!prepared.ok) return prepared
  const memory = memoryFor(prepared.memory, limits)
  return memory.ok ? { ok: true } : memory
}
