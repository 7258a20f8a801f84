// A process that embeds a coordinator must be able to end: after stop(), nothing of the
// coordinator (sockets, Redis connections, timers) may keep Node's event loop alive.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { type BackendKind, dropNamespace, REDIS_URL } from '../helpers/cluster.ts'

const testDir = fileURLToPath(new URL('..', import.meta.url))

/** Start and stop a coordinator in a fresh process; resolve with how the process ended. */
function startAndStop(kind: BackendKind, namespace: string): Promise<{ code: number | null; stderr: string }> {
  const script = `
    import { mkdtempSync, rmSync } from 'node:fs'
    import { tmpdir } from 'node:os'
    import { join } from 'node:path'
    import { createCoordinator } from '@quorate/coordinator'
    import { pino } from 'pino'
    const dir = mkdtempSync(join(tmpdir(), 'quorate-shutdown-'))
    const coordinator = createCoordinator({
      dataDir: join(dir, 'coordinator'),
      httpPort: 0,
      logger: pino({ level: 'silent' }),
      ${kind === 'redis' ? `redisUrl: ${JSON.stringify(REDIS_URL)}, redisNamespace: ${JSON.stringify(namespace)},` : ''}
    })
    await coordinator.start()
    await coordinator.stop()
    rmSync(dir, { recursive: true, force: true })
  `
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
    { cwd: testDir },
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  // Far longer than a start and a stop take; a process held open by a leak never ends.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
}

describe('coordinator shutdown', () => {
  for (const kind of ['embedded', 'redis'] satisfies BackendKind[]) {
    it(`lets its process exit by itself after stop (${kind} backend)`, async () => {
      const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
      try {
        const { code, stderr } = await startAndStop(kind, namespace)
        expect(stderr).toBe('')
        expect(code).toBe(0)
      } finally {
        if (kind === 'redis') await dropNamespace(namespace)
      }
    })
  }
})
