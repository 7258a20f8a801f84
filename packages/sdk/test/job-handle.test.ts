import { describe, expect, it } from 'vitest'
import type { QuorateClient } from '../src/client.ts'
import { JobHandle } from '../src/job-handle.ts'

/** A client stub: the job is already finished, and each event stream stays open until aborted. */
function finishedJobClient() {
  const streams: Array<{ path: string; signal: AbortSignal }> = []
  const client = {
    request: async () => ({ state: 'completed' }),
    getJob: async () => ({ id: 'j', state: 'completed' }),
    stream: async (path: string, signal: AbortSignal) => {
      streams.push({ path, signal })
      return new Response(new ReadableStream<Uint8Array>({ start() {} }))
    },
  }
  return { client: client as unknown as QuorateClient, streams }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('JobHandle.waitFor', () => {
  it('leaves the event stream open for listeners of other event types', async () => {
    const { client, streams } = finishedJobClient()
    const handle = new JobHandle(client, 'j')
    handle.on('replica:result', () => {})
    await turn()
    await handle.waitFor()
    await turn()
    const open = streams.filter((s) => !s.signal.aborted)
    expect(open.map((s) => s.path)).toEqual(['/v1/jobs/j/events?types=replica:result,job:done'])
    handle.close()
    expect(streams.every((s) => s.signal.aborted)).toBe(true)
  })

  it('closes the stream it opened for itself', async () => {
    const { client, streams } = finishedJobClient()
    await new JobHandle(client, 'j').waitFor()
    await turn()
    expect(streams.every((s) => s.signal.aborted)).toBe(true)
  })

  it('leaves the stream open for another waitFor and for an iterator still running', async () => {
    let state = 'running'
    const { client, streams } = finishedJobClient()
    Object.assign(client, {
      request: async () => ({ state }),
      getJob: async () => ({ id: 'j', state }),
    })
    const handle = new JobHandle(client, 'j')
    const iterated: string[] = []
    const iterating = (async () => {
      for await (const event of handle) iterated.push(event.type)
    })()
    const controller = new AbortController()
    const longWait = handle.waitFor({ signal: controller.signal }).catch((err: unknown) => err)
    await turn()
    state = 'completed'
    await handle.waitFor()
    await turn()
    // The other waitFor and the iterator still listen: the stream they share stays open.
    expect(streams.filter((s) => !s.signal.aborted)).toHaveLength(1)
    controller.abort()
    await longWait
    await turn()
    expect(streams.filter((s) => !s.signal.aborted)).toHaveLength(1)
    handle.emit('job:done', { type: 'job:done', at: 1, jobId: 'j', state: 'completed' } as never)
    await iterating
    await handle.waitFor()
    await turn()
    expect(iterated).toEqual(['job:done'])
    expect(streams.every((s) => s.signal.aborted)).toBe(true)
  })
})
