import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WASI } from 'node:wasi'

// This package's TypeScript lib has no WebAssembly types: the two calls used here.
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<object>
}

/**
 * Run a WASI command module under Node's own WASI (node:wasi), as the reference for what a job's
 * output must be: Quorate's argv[0] ('main.wasm'), an empty environment, `stdin` as standard input.
 */
export async function runNodeWasi(bytes: Uint8Array, stdin: Uint8Array): Promise<{ exitCode: number; stdout: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-node-wasi-'))
  writeFileSync(join(dir, 'stdin'), stdin)
  const fds = [
    openSync(join(dir, 'stdin'), 'r'),
    openSync(join(dir, 'stdout'), 'w'),
    openSync(join(dir, 'stderr'), 'w'),
  ]
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: ['main.wasm'],
      env: {},
      stdin: fds[0],
      stdout: fds[1],
      stderr: fds[2],
      returnOnExit: true,
    })
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes), wasi.getImportObject())
    const exitCode = wasi.start(instance)
    return { exitCode, stdout: readFileSync(join(dir, 'stdout')) }
  } finally {
    for (const fd of fds) closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}
