import { sha256Hex } from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { type JobHandle, type JobInput, mapReduce, type ShardResult } from '../src/index.ts'

const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
const bytes = (s: string) => new TextEncoder().encode(s)

/** A client whose job "runs" the inputs through `run`, with the given shards failing. */
function stubClient(run: (input: string) => string, outcomes: Record<number, Partial<ShardResult>> = {}) {
  const submitted: JobInput[] = []
  const client = {
    async submitJob(job: JobInput) {
      submitted.push(job)
      const results: ShardResult[] = job.inputs.map((input, index) => {
        const output = bytes(run(typeof input === 'string' ? input : new TextDecoder().decode(input as Uint8Array)))
        const ok: ShardResult = {
          index,
          state: 'accepted',
          output,
          digest: sha256Hex(output),
          outcome: 'ok',
          majority: ['a', 'b'],
          minority: [],
        }
        const override = outcomes[index]
        if (override === undefined) return ok
        const { output: _, ...rest } = ok
        return { ...rest, ...override } as ShardResult
      })
      return { id: 'job-1', results: async () => results, close() {} } as unknown as JobHandle
    },
  }
  return { client, submitted }
}

describe('mapReduce', () => {
  it('folds the shard outputs in shard order', async () => {
    const { client, submitted } = stubClient((s) => s.toUpperCase())
    const result = await mapReduce({
      client,
      wasm,
      shards: ['a', 'b', 'c'],
      initial: '',
      reduce: (acc, output, shard) => `${acc}${shard}:${new TextDecoder().decode(output)} `,
      redundancy: 3,
      quorum: 2,
    })
    expect(result).toMatchObject({ value: '0:A 1:B 2:C ', partial: false, failedShards: [], jobId: 'job-1' })
    expect(submitted[0]).toMatchObject({ inputs: ['a', 'b', 'c'], redundancy: 3, quorum: 2 })
  })

  it('leaves out failed shards and shards decided with a failure outcome, and says why', async () => {
    const { client } = stubClient((s) => s, {
      1: { state: 'failed', reason: 'no quorum: 1 of 3 results agree' },
      2: { state: 'accepted', outcome: 'trap', reason: 'unreachable' },
    })
    const result = await mapReduce({
      client,
      wasm,
      inputs: ['1', '2', '3', '4'],
      initial: 0,
      reduce: (sum, output) => sum + Number(new TextDecoder().decode(output)),
    })
    expect(result.value).toBe(5)
    expect(result.partial).toBe(true)
    expect(result.failedShards).toEqual([
      { index: 1, reason: 'no quorum: 1 of 3 results agree' },
      { index: 2, reason: 'accepted with outcome trap: unreachable' },
    ])
  })
})
