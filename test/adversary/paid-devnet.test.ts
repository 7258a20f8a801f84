import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { QUORATE_BIN } from '../helpers/quorate-bin.ts'

/**
 * The paid devnet with bad providers: anvil, the contracts, a coordinator
 * settling on chain, three staked honest agents, a staked liar and a staked
 * colluder (each `quorate adversary` processes that sign their answers), and
 * 100 unregistered Sybil identities. The liar must be slashed on chain, every
 * honest agent paid, no Sybil admitted and no wrong result accepted.
 */
describe('quorate devnet with a liar, a colluder and 100 Sybils, paid on chain', () => {
  it('slashes the liar, pays every honest agent, refuses the Sybils and accepts no wrong result', {
    timeout: 400_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quorate-paid-devnet-'))
    try {
      const child = spawn(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          QUORATE_BIN,
          'devnet',
          '--once',
          '--port',
          '0',
          '--data-dir',
          dir,
          '--liars',
          '1',
          '--colluders',
          '1',
          '--sybils',
          '100',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stdout = ''
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8')
      })
      child.stderr.resume()
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code, stdout).toBe(0)
      expect(stdout).toMatch(/sybils \(pid \d+\) 0 admitted, 100 refused/)
      const line = stdout.split('\n').find((l) => l.startsWith('adversary report: '))
      expect(line, stdout).toBeDefined()
      const report = JSON.parse((line as string).slice('adversary report: '.length)) as {
        wrong: number
        quarantined: string[]
        slashed: Array<{ peerId: string; amount: string }>
        honest: Array<{ peerId: string; earnings: string; quarantined: boolean }>
      }
      expect(report.wrong).toBe(0)
      const liar = /devnet: liar-1 .*\n/.exec(stdout)
      expect(liar).not.toBeNull()
      // Whoever was caught on this paid job was slashed on chain, and the liar was among them.
      expect(report.slashed.map((s) => s.peerId).sort()).toEqual([...report.quarantined].sort())
      expect(report.slashed.length).toBeGreaterThanOrEqual(1)
      for (const s of report.slashed) expect(BigInt(s.amount)).toBeGreaterThan(0n)
      expect(report.honest).toHaveLength(3)
      for (const h of report.honest) {
        expect(h.quarantined).toBe(false)
        expect(BigInt(h.earnings)).toBeGreaterThan(0n)
      }
      expect(stdout).toMatch(/adversaries: slashed on chain: .*liar-1/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
