import { type ChildProcess, spawn } from 'node:child_process'
import { isolatedEnv, QUORATE_BIN } from '@quorate/cli/processes'

export { QUORATE_BIN }

/**
 * The real `quorate` binary as a subprocess, with the test's Node and `env` over the test's own
 * (less `QUORATE_REDIS_*`: a child gets Redis only when the test passes it).
 */
export function spawnQuorateBin(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--disable-warning=ExperimentalWarning', QUORATE_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...isolatedEnv(), ...env },
  })
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
