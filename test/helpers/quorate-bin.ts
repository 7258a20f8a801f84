import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** The `quorate` launcher of the workspace's CLI package, found from its package.json's `bin`. */
export const QUORATE_BIN = (() => {
  const require = createRequire(import.meta.url)
  // The package's main file sits in dist/; its package.json is one level up.
  const root = dirname(dirname(require.resolve('@quorate/cli')))
  const pkg = require(join(root, 'package.json')) as { bin: { quorate: string } }
  return join(root, pkg.bin.quorate)
})()

/** The real `quorate` binary as a subprocess, with the test's Node and `env` over the test's own. */
export function spawnQuorateBin(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--disable-warning=ExperimentalWarning', QUORATE_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...isolatedEnv(), ...env },
  })
}

/**
 * This process's environment without `QUORATE_REDIS_*`. CI exports QUORATE_REDIS_URL for the tests
 * that want Redis; a coordinator that inherited it would share one namespace with every other
 * test's coordinators, so a child gets Redis only when the test passes it.
 */
export function isolatedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.QUORATE_REDIS_URL
  delete env.QUORATE_REDIS_NAMESPACE
  return env
}

/** Everything a finished child printed, and how it exited. */
export async function outputOf(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stdout, stderr }
}
