import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import type { CoordinatorInfo, JobResultsView } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { type AdversaryProcess, providersOf, startAdversary } from '../helpers/adversary.ts'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { primesIn, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

/**
 * 100 Sybil identities from one `quorate adversary` process, colluding, beside
 * three honest agent processes. Without a chain, a coordinator either admits
 * only its allowlist, or runs open and marks every result untrusted.
 */

const SHARDS = Array.from({ length: 6 }, (_, i) => `${i * 150_000} ${(i + 1) * 150_000}`)

let net: TestNetwork | undefined
const adversaries: AdversaryProcess[] = []
afterEach(async () => {
  await Promise.all(adversaries.splice(0).map((a) => a.stop(5_000)))
  await net?.stop()
  net = undefined
})

async function runJob(n: TestNetwork) {
  const job = await n.client.submitJob({ wasm: await primesWasm(), inputs: SHARDS, redundancy: 3, quorum: 2 })
  await job.results({ timeout: 240_000 })
  job.close()
  const raw = (await fetch(`${n.coordinator.httpUrl}/v1/jobs/${job.id}/results`).then((r) =>
    r.json(),
  )) as JobResultsView
  let wrong = 0
  for (const s of raw.shards) {
    if (s.state !== 'accepted' || s.output === undefined) continue
    const text = Buffer.from(s.output, 'base64').toString('utf8').trim()
    if (text !== String(primesIn(SHARDS[s.index] as string))) wrong++
  }
  return { raw, wrong }
}

describe('100 Sybils without a chain', () => {
  it('are refused by an allowlist, and the honest providers on it give the right answers', {
    timeout: 300_000,
  }, async () => {
    // The honest agents' identities exist before they start, so the operator can list them.
    const dir = await mkdtemp(join(tmpdir(), 'quorate-test-'))
    const honest = await Promise.all([1, 2, 3].map((i) => agentPeerId(join(dir, `agent-${i}`))))
    const allowlist = join(dir, 'allowlist.txt')
    await writeFile(allowlist, `# the honest agents\n${honest.join('\n')}\n`)
    net = await startNetwork({ agents: 3, dir, coordinatorArgs: ['--allowlist', allowlist] })
    expect(net.agents.map((a) => a.peerId).sort()).toEqual([...honest].sort())
    const info = (await fetch(`${net.coordinator.httpUrl}/v1/info`).then((r) => r.json())) as CoordinatorInfo
    expect(info.admission).toEqual({ mode: 'allowlist', untrusted: false })
    const sybils = await startAdversary(net, 'sybil', ['--identities', '100', '--group', 'sybil-answer'])
    adversaries.push(sybils)
    expect(sybils.welcomed).toEqual([])
    expect(sybils.refused).toHaveLength(100)
    expect(sybils.refused[0]?.message).toMatch(/is not on this coordinator's allowlist/)
    await until(
      async () => {
        const providers = await providersOf((net as TestNetwork).client)
        return [...providers.values()].filter((p) => p.online).length === 3 ? true : undefined
      },
      { what: 'the three listed agents online' },
    )
    const { raw, wrong } = await runJob(net)
    expect(wrong).toBe(0)
    expect(raw.untrusted).toBeUndefined()
    expect(raw.shards.every((s) => s.state === 'accepted')).toBe(true)
  })

  it('are admitted in --open mode, and the results say they come from an untrusted network', {
    timeout: 300_000,
  }, async () => {
    net = await startNetwork({ agents: 3, coordinatorArgs: ['--open'] })
    const info = (await fetch(`${net.coordinator.httpUrl}/v1/info`).then((r) => r.json())) as CoordinatorInfo
    expect(info.admission).toEqual({ mode: 'open', untrusted: true })
    const sybils = await startAdversary(net, 'sybil', ['--identities', '100', '--group', 'sybil-answer'])
    adversaries.push(sybils)
    expect(sybils.welcomed).toHaveLength(100)
    const { raw } = await runJob(net)
    expect(raw.untrusted).toBe(true)
    const view = (await fetch(`${net.coordinator.httpUrl}/v1/jobs/${raw.id}`).then((r) => r.json())) as {
      untrusted?: boolean
    }
    expect(view.untrusted).toBe(true)
  })
})
