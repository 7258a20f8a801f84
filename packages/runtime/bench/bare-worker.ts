// The baseline for the benchmark: WebAssembly.instantiate + run, with no
// queue of ours, no limits and no outcome handling. It uses Quorate's WASI
// host (the workloads need stdin and stdout) so that only metering and the
// pool differ. Given an instrumented module, it sets the fuel and runs that
// instead, which isolates the cost of metering.
import { Wasi } from '../dist/wasi.js'

export interface BareTask {
  module: WebAssembly.Module
  stdin: Uint8Array
  args: string[]
  /** Pages for the host-provided memory of an instrumented module. */
  memory?: { initial: number; maximum: number }
}

const control = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })

export default async function run(task: BareTask): Promise<{ durationMs: number; cpuMs: number; output: Uint8Array }> {
  const started = performance.now()
  const cpu = process.threadCpuUsage()
  const wasi = new Wasi({
    args: task.args,
    env: {},
    stdin: task.stdin,
    outputLimit: 1 << 30,
    stderrLimit: 1 << 16,
    seed: new Uint8Array(32),
  })
  const imports: WebAssembly.Imports = { wasi_snapshot_preview1: wasi.imports() as WebAssembly.ModuleImports }
  const memory = task.memory === undefined ? undefined : new WebAssembly.Memory(task.memory)
  // An instrumented module also imports the pool's slot states; a zero there never asks it to stop.
  if (WebAssembly.Module.imports(task.module).some((i) => i.module === 'quorate')) {
    imports.quorate = memory === undefined ? { control } : { memory, control }
  }
  const instance = await WebAssembly.instantiate(task.module, imports)
  wasi.memory = memory ?? (instance.exports.memory as WebAssembly.Memory)
  const fuel = instance.exports.__quorate_fuel as WebAssembly.Global | undefined
  if (fuel !== undefined) fuel.value = 1n << 60n
  ;(instance.exports.__quorate_start as (() => void) | undefined)?.()
  try {
    ;(instance.exports._start as () => void)()
  } catch (err) {
    if ((err as Error).name !== 'ProcExit') throw err
  }
  // This thread's CPU time as well as the wall clock: on a shared machine the wall clock also counts the
  // time other processes held the core, which is what makes (b) noisy; CPU time mostly does not.
  const used = process.threadCpuUsage(cpu)
  return {
    durationMs: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    output: wasi.stdout.bytes(),
  }
}
