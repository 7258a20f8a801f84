// The retention policy end to end: `quorate coordinator start --retention 1s` (a real process, a real
// agent), a job run to the end, its results fetched, and then its id answers 404 saying it was purged.
import { createClient } from '@quorate/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { startNetwork, type TestNetwork } from '../helpers/network.ts'
import { countPrimes, primesWasm } from '../helpers/primes.ts'
import { until } from '../helpers/until.ts'

describe('coordinator start --retention', () => {
  let net: TestNetwork | undefined
  afterEach(async () => {
    await net?.stop()
    net = undefined
  })

  it('keeps a finished job fetchable for the retention time, then purges it and says so', async () => {
    net = await startNetwork({ agents: 1, coordinatorArgs: ['--retention', '1s'] })
    const client = createClient({ coordinatorUrl: net.coordinator.httpUrl })
    const job = await client.submitJob({ wasm: await primesWasm(), inputs: ['2 5000'], redundancy: 1 })
    const results = await job.results({ timeout: 60_000 })
    expect(new TextDecoder().decode(results[0]?.output).trim()).toBe(String(countPrimes(2, 5000)))
    job.close()
    const gone = await until(
      async () => {
        const res = await fetch(`${net?.coordinator.httpUrl}/v1/jobs/${job.id}?view=summary`)
        return res.status === 404 && ((await res.json()) as { code: string; message: string })
      },
      { what: 'the finished job to be purged', timeout: 30_000 },
    )
    expect(gone.code).toBe('JOB_NOT_FOUND')
    expect(gone.message).toMatch(new RegExp(`^job ${job.id} was purged at .+ per the coordinator's retention policy$`))
    const listed = (await (await fetch(`${net.coordinator.httpUrl}/v1/jobs`)).json()) as { total: number }
    expect(listed.total).toBe(0)
  })
})
