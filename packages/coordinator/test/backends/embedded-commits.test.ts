// What a 1-shard job costs the embedded backend in commits: the submission stores the job and hands
// out its shard in one, the decision is one more, and an empty queue costs none.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { jobIdOf } from '@quorate/protocol'
import { afterEach, expect, it, vi } from 'vitest'
import type { ShardDecision, ShardWork } from '../../src/backend.ts'
import { embeddedBackend } from '../../src/backends/embedded/index.ts'
import { accepted, listen, specOf } from '../../src/testing/fixtures.ts'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const c of cleanup.splice(0)) await c()
})

it('stores a job and hands out its shard in one commit, and records its decision in one more', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-commits-'))
  const backend = embeddedBackend({ dataDir: join(dir, 'data') })
  cleanup.push(async () => {
    await backend.stop()
    await rm(dir, { recursive: true, force: true })
  })
  await backend.start()
  const log = listen(backend)
  const handed: Array<{ work: ShardWork; decide: (d: ShardDecision) => void }> = []
  backend.consume(
    (work) => new Promise((decide) => handed.push({ work, decide })),
    () => 4,
  )
  const exec = vi.spyOn(DatabaseSync.prototype, 'exec')
  const commits = () => exec.mock.calls.filter(([sql]) => sql === 'COMMIT').length

  const spec = specOf(['only'])
  const id = jobIdOf(spec)
  await backend.submit(id, spec, Date.now() + 60_000)
  // Handed out by the submission itself, not by a later turn's claim.
  expect(handed.map((h) => [h.work.jobId, h.work.index, h.work.run])).toEqual([[id, 0, 1]])
  expect(commits()).toBe(1)

  handed[0]?.decide(accepted(handed[0].work))
  await log.done(id)
  await log.drained(backend)
  // The decision (with the job's end) is one commit; the queue, empty after it, costs none.
  expect(commits()).toBe(2)
  expect(await backend.job(id)).toMatchObject({ state: 'completed', accepted: 1 })
})
