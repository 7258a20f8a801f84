import type { ProviderView } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { estimate } from '../src/index.ts'

// The smallest valid module: the header alone.
const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])

const provider = (peerId: string, extra: Partial<ProviderView> = {}): ProviderView => ({
  peerId,
  online: true,
  capacity: 2,
  running: 0,
  lastSeenAt: 0,
  counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
  ...extra,
})
const clientWith = (providers: ProviderView[]) => ({ providers: async () => providers })

describe('estimate', () => {
  it('bounds fuel by replicas × the per-replica fuel limit, expected and worst case', async () => {
    const result = await estimate(clientWith([provider('a'), provider('b'), provider('c')]), {
      wasm,
      inputs: ['1', '2', '3', '4'],
      redundancy: 3,
      limits: { fuel: 1000 },
    })
    expect(result).toMatchObject({
      shards: 4,
      redundancy: 3,
      quorum: 2,
      maxReplicas: 5,
      replicas: { expected: 12, worstCase: 20 },
      fuel: { perReplica: 1000, expected: 12_000, worstCase: 20_000 },
      placement: { canRunNow: true, online: 3, operators: 3, needed: 2, perShard: 3, freeSlots: 6 },
    })
    expect(result.placement.reason).toBeUndefined()
  })

  it('expects a quorum of replicas per shard under decide: quorum, which places the quorum first', async () => {
    const result = await estimate(clientWith([provider('a'), provider('b'), provider('c')]), {
      wasm,
      inputs: ['1', '2', '3', '4'],
      redundancy: 3,
      decide: 'quorum',
      limits: { fuel: 1000 },
    })
    expect(result.replicas).toEqual({ expected: 8, worstCase: 20 })
    expect(result.fuel).toEqual({ perReplica: 1000, expected: 8_000, worstCase: 20_000 })
  })

  it('explains why a job cannot run now: fewer providers or operators than the quorum', async () => {
    const two = clientWith([provider('a'), provider('b'), provider('c', { online: false })])
    const result = await estimate(two, { wasm, inputs: ['x'], redundancy: 5 })
    expect(result.placement).toMatchObject({ canRunNow: false, needed: 3, perShard: 2 })
    expect(result.placement.reason).toMatchInlineSnapshot(
      `"cannot run now: only 2 providers online, and a shard needs 3 agreeing (quorum 3)"`,
    )
    const oneOperator = clientWith(['a', 'b', 'c'].map((p) => provider(p, { operator: '0xop' })))
    expect((await estimate(oneOperator, { wasm, inputs: ['x'] })).placement.reason).toMatchInlineSnapshot(
      `"cannot run now: the 3 providers online belong to 1 operator, and a shard needs 2 agreeing of distinct operators (quorum 2)"`,
    )
    const busy = clientWith(['a', 'b', 'c'].map((p) => provider(p, { running: 2 })))
    const waiting = (await estimate(busy, { wasm, inputs: ['x'] })).placement
    expect(waiting.canRunNow).toBe(true)
    expect(waiting.reason).toMatchInlineSnapshot(`"will wait: all 3 online providers are busy"`)
  })

  it('runs with fewer replicas than the redundancy when a quorum of providers is online, as the scheduler does', async () => {
    const three = clientWith([provider('a'), provider('b'), provider('c')])
    const result = await estimate(three, { wasm, inputs: ['x'], redundancy: 5 })
    expect(result.placement).toMatchObject({ canRunNow: true, online: 3, needed: 3, perShard: 3 })
    expect(result.placement.reason).toMatchInlineSnapshot(
      `"runs with 3 of 5 replicas per shard: only 3 providers online; a shard is decided once 3 agree, and waits for another provider if they do not"`,
    )
  })

  it('validates the spec as the coordinator does, naming the field', async () => {
    await expect(
      estimate(clientWith([]), { wasm, inputs: ['x'], redundancy: 2, quorum: 3 }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(
      `[InvalidJobSpecError: invalid job spec: quorum: must be at most redundancy (2), got 3]`,
    )
  })
})
