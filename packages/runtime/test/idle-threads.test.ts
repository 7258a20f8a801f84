import { readdirSync } from 'node:fs'
import { InvalidOptionError } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { createRuntimePool } from '../src/index.ts'
import { command, task } from './helpers.ts'

/** OS threads of this process: each worker thread of a pool is one. */
const osThreads = () => readdirSync('/proc/self/task').length

async function settles(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('idleThreadMs', () => {
  it('starts threads when tasks arrive and stops them once idle', async () => {
    await new Promise((r) => setTimeout(r, 100))
    const before = osThreads()
    const pool = createRuntimePool({ threads: 2, idleThreadMs: 200 })
    try {
      await new Promise((r) => setTimeout(r, 300))
      expect(osThreads()).toBe(before)
      const { outcome } = await pool.run(task(command('')))
      expect(outcome.kind).toBe('ok')
      expect(osThreads()).toBeGreaterThan(before)
      await settles(() => osThreads() === before, 'the idle threads stop')
      // A pool whose threads stopped starts them again.
      const again = await pool.run(task(command('')))
      expect(again.outcome.kind).toBe('ok')
    } finally {
      await pool.close()
    }
  })

  it('is refused unless a number of milliseconds ≥ 0', () => {
    expect(() => createRuntimePool({ idleThreadMs: -1 })).toThrow(InvalidOptionError)
    expect(() => createRuntimePool({ idleThreadMs: Number.NaN })).toThrow(/idleThreadMs/)
  })
})
