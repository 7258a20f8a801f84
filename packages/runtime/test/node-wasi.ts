// Node's own WASI (node:wasi) as the reference host for tests and the bench: the same module, args and
// stdin as a Quorate task, run in this thread with no metering. Nothing here may depend on Quorate's runtime.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WASI } from 'node:wasi'

export interface NodeWasiRun {
  exitCode: number
  stdout: Uint8Array
  stderr: Uint8Array
  /** Wall time of instantiating the compiled module and running `_start`, in milliseconds. */
  durationMs: number
  /** This thread's CPU time over the same span, in milliseconds. */
  cpuMs: number
  exports: WebAssembly.Exports
}

/** Run a WASI command module under node:wasi with Quorate's argv[0] ('main.wasm') and an empty environment. */
export async function runNodeWasi(
  module: Uint8Array | WebAssembly.Module,
  options: { args?: string[]; stdin?: Uint8Array } = {},
): Promise<NodeWasiRun> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-node-wasi-'))
  const path = (name: string) => join(dir, name)
  writeFileSync(path('stdin'), options.stdin ?? new Uint8Array(0))
  const fds = [openSync(path('stdin'), 'r'), openSync(path('stdout'), 'w'), openSync(path('stderr'), 'w')]
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: ['main.wasm', ...(options.args ?? [])],
      env: {},
      stdin: fds[0],
      stdout: fds[1],
      stderr: fds[2],
      returnOnExit: true,
    })
    const compiled =
      module instanceof WebAssembly.Module ? module : await WebAssembly.compile(module as Uint8Array<ArrayBuffer>)
    const started = performance.now()
    const cpu = process.threadCpuUsage()
    const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject() as WebAssembly.Imports)
    const exitCode = wasi.start(instance)
    const durationMs = performance.now() - started
    const used = process.threadCpuUsage(cpu)
    for (const fd of fds) closeSync(fd)
    fds.length = 0
    return {
      exitCode,
      stdout: new Uint8Array(readFileSync(path('stdout'))),
      stderr: new Uint8Array(readFileSync(path('stderr'))),
      durationMs,
      cpuMs: (used.user + used.system) / 1000,
      exports: instance.exports,
    }
  } finally {
    for (const fd of fds) closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}
