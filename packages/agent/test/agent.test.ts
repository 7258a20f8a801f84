import { describe, expect, it } from 'vitest'
import { createAgent } from '../src/index.ts'

const COORDINATOR = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGr5s3X97FP1piBD81ALXCkxNhDoQTovGGxenG5dhX9rS'

describe('createAgent options', () => {
  it('names the bad option', () => {
    expect(() =>
      createAgent({ dataDir: '/tmp/x', coordinator: '/ip4/127.0.0.1/tcp/4001' }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[InvalidOptionError: coordinator must be a multiaddr ending in /p2p/<peerId> (got "/ip4/127.0.0.1/tcp/4001")]`,
    )
    expect(() =>
      createAgent({ dataDir: '/tmp/x', coordinator: COORDINATOR, capacity: 0 }),
    ).toThrowErrorMatchingInlineSnapshot(`[InvalidOptionError: capacity must be a positive integer (got 0)]`)
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: [] })).toThrow(
      /coordinator needs at least one multiaddr/,
    )
  })

  it('accepts several coordinators to fail over between', () => {
    expect(() => createAgent({ dataDir: '/tmp/x', coordinator: [COORDINATOR, COORDINATOR], threads: 1 })).not.toThrow()
  })
})
