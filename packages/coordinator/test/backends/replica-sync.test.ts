import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { ReplicaSync } from '../../src/backends/redis/replica-sync.ts'

/** A connection whose WAIT answers only when the test says how many replicas acknowledged. */
function stubConnection() {
  const pending: Array<(acked: number) => void> = []
  const client = {
    wait: (_replicas: number, _timeoutMs: number) => new Promise<number>((resolve) => pending.push(resolve)),
  }
  return { client: client as unknown as Redis, pending }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('ReplicaSync', () => {
  it('writes of one moment share a WAIT; a write behind a WAIT in flight waits for the next one', async () => {
    const { client, pending } = stubConnection()
    const t = 0
    const sync = new ReplicaSync(
      { client: () => client, logger: undefined, now: () => t },
      { replicas: 1, timeoutMs: 500 },
    )
    const done: string[] = []
    const first = sync.afterWrite().then(() => done.push('first'))
    const second = sync.afterWrite().then(() => done.push('second'))
    const third = sync.afterWrite().then(() => done.push('third'))
    expect(pending).toHaveLength(1)
    pending[0]?.(1)
    await first
    await tick()
    // The first WAIT may have left before the second and third writes: they need one more.
    expect(done).toEqual(['first'])
    expect(pending).toHaveLength(2)
    pending[1]?.(1)
    await Promise.all([second, third])
    expect(done).toEqual(['first', 'second', 'third'])
  })

  it('after a WAIT that comes back short it stops waiting for a while, then asks again', async () => {
    const { client, pending } = stubConnection()
    let t = 0
    const sync = new ReplicaSync(
      { client: () => client, logger: undefined, now: () => t },
      { replicas: 1, timeoutMs: 500 },
    )
    const short = sync.afterWrite()
    pending[0]?.(0)
    await short
    await sync.afterWrite()
    expect(pending).toHaveLength(1)
    t += 10_001
    void sync.afterWrite()
    expect(pending).toHaveLength(2)
  })

  it('waits for nothing when no replica is asked for', async () => {
    const { client, pending } = stubConnection()
    const sync = new ReplicaSync(
      { client: () => client, logger: undefined, now: () => 0 },
      { replicas: 0, timeoutMs: 500 },
    )
    await sync.afterWrite()
    expect(pending).toHaveLength(0)
  })
})
