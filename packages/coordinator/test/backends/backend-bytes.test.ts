// Both backends hand a shard's input to the runner and keep its output byte for byte,
// whatever the bytes: every value 0–255, invalid UTF-8 included. Real Redis at 127.0.0.1:6379
// (QUORATE_REDIS_URL), a namespace of its own, deleted after the test.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jobIdOf, parseJobSpec, toBase64 } from '@quorate/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { dropNamespace } from '../../bench/redis-namespace.ts'
import { embeddedBackend, redisBackend, type SchedulerBackend, type ShardWork } from '../../src/index.ts'

type BackendKind = 'embedded' | 'redis'
const REDIS_URL = process.env.QUORATE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const wasm = new Uint8Array(
  await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')),
)
const everyByte = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 255) % 256)
const reversed = everyByte.slice().reverse()

for (const kind of ['embedded', 'redis'] satisfies BackendKind[]) {
  describe(`${kind} backend: shard bytes`, { timeout: 120_000 }, () => {
    let backend: SchedulerBackend | undefined
    let cleanup: () => Promise<void> = async () => {}
    afterEach(async () => {
      await backend?.stop()
      await cleanup()
    }, 120_000)

    it('passes binary inputs to the runner and stores binary outputs exactly', async () => {
      const dir = await mkdtemp(join(tmpdir(), `quorate-bytes-${kind}-`))
      const namespace = `quorate-test-${Math.random().toString(36).slice(2, 10)}`
      cleanup = async () => {
        await rm(dir, { recursive: true, force: true })
        if (kind === 'redis') await dropNamespace(REDIS_URL, namespace)
      }
      backend =
        kind === 'redis' ? redisBackend({ url: REDIS_URL, namespace }) : embeddedBackend({ dataDir: join(dir, 'data') })
      await backend.start()
      const spec = parseJobSpec({
        module: { wasm: toBase64(wasm) },
        inputs: [toBase64(everyByte), toBase64(reversed)],
        redundancy: 1,
      })
      const id = jobIdOf(spec)
      await backend.submit(id, spec, Date.now() + 60_000)
      const seen = new Map<number, Uint8Array>()
      const done = Promise.withResolvers<void>()
      backend.subscribe((event) => {
        if (event.type === 'job:done' && event.jobId === id) done.resolve()
      })
      backend.consume(
        async (work: ShardWork) => {
          seen.set(work.index, work.input.slice())
          return {
            state: 'accepted',
            replicas: [],
            digest: 'd'.repeat(64),
            outcome: 'ok',
            // The output is the input backwards, so a swap or a re-encoding shows.
            output: work.input.slice().reverse(),
            majority: ['p'],
            minority: [],
          }
        },
        () => 4,
      )
      await done.promise
      expect(seen.get(0)).toEqual(everyByte)
      expect(seen.get(1)).toEqual(reversed)
      expect(await backend.output(id, 0)).toEqual(reversed)
      expect(await backend.output(id, 1)).toEqual(everyByte)
      expect((await backend.job(id))?.state).toBe('completed')
    })
  })
}
