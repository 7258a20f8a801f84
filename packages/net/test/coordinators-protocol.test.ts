import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import {
  askCoordinators,
  COORDINATORS_PROTOCOL,
  CoordinatorDirectory,
  type CoordinatorRecord,
  createQuorateNode,
  type Libp2p,
  readCoordinatorRecords,
  serveCoordinators,
} from '../src/index.ts'

const nodes: Libp2p[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(): Promise<Libp2p> {
  const n = await createQuorateNode({ privateKey: await generateKeyPair('Ed25519') })
  nodes.push(n)
  await n.start()
  return n
}

function recordOf(n: Libp2p, lastSeen = Date.now()): CoordinatorRecord {
  return { peerId: n.peerId.toString(), multiaddrs: [n.getMultiaddrs()[0]!.toString()], lastSeen }
}

const PEER = '12D3KooWGRUVh8ZSBBfGLWe2WXUL6AqV7bzTSTrgCGG8WMCbGMHc'

describe('coordinator records from a peer', () => {
  it('keeps the good entries and names what is wrong with each bad one', () => {
    const good = {
      peerId: PEER,
      multiaddrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`],
      httpUrl: 'http://10.0.0.1:7700',
      lastSeen: 1000,
    }
    const { records, problems } = readCoordinatorRecords(
      [
        good,
        { ...good, multiaddrs: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWSomeoneElseSomeoneElseSomeoneElseSome'] },
        { ...good, httpUrl: 'file:///etc/passwd' },
        { ...good, lastSeen: 10_000_000 },
        { ...good, multiaddrs: Array(5).fill(good.multiaddrs[0]) },
        'nonsense',
      ],
      1000,
    )
    expect(records).toEqual([good])
    expect(problems).toMatchInlineSnapshot(`
      [
        "coordinators[1]: malformed message: multiaddrs[0] must end in /p2p/<peerId>",
        "coordinators[2]: malformed message: httpUrl must be http(s)",
        "coordinators[3]: malformed message: lastSeen is in the future",
        "coordinators[4]: malformed message: multiaddrs must hold 1 to 4 multiaddrs",
        "coordinators[5]: malformed message: a coordinator record must be an object",
      ]
    `)
  })

  it('refuses a list longer than the bound whole', () => {
    expect(() => readCoordinatorRecords(Array(33).fill({}), 0)).toThrow(/33 entries, more than 32/)
  })
})

describe('CoordinatorDirectory', () => {
  it('caps what one source adds, prefers a first-hand word, and forgets the silent', () => {
    let now = 100_000
    const directory = new CoordinatorDirectory({ ttlMs: 1000, maxPerSource: 2, now: () => now })
    const rec = (i: number): CoordinatorRecord => {
      const peerId = `12D3KooW${String(i).padStart(44, 'A')}`
      return { peerId, multiaddrs: [`/ip4/10.0.0.${i}/tcp/1/p2p/${peerId}`], lastSeen: now }
    }
    directory.add([rec(1), rec(2), rec(3)], 'liar')
    expect(directory.list(10).map((r) => r.peerId)).toEqual([rec(1).peerId, rec(2).peerId])
    directory.add([rec(3)], rec(3).peerId)
    expect(directory.size).toBe(3)
    now += 600
    directory.add([rec(3)], rec(3).peerId)
    now += 600
    expect(directory.list(10).map((r) => r.peerId)).toEqual([rec(3).peerId])
  })
})

describe(`${COORDINATORS_PROTOCOL} over libp2p`, () => {
  it('answers with the list, and takes a coordinator’s announcement of itself only', async () => {
    const server = await node()
    const coordinator = await node()
    const directory = new CoordinatorDirectory()
    directory.setSelf({ peerId: server.peerId.toString(), multiaddrs: [server.getMultiaddrs()[0]!.toString()] })
    const refused: string[] = []
    await serveCoordinators(server, {
      list: () => directory.list(32),
      announced: (record, from) => directory.add([record], from),
      refused: (_from, reason) => refused.push(reason),
    })
    const { lastSeen: _, ...announce } = recordOf(coordinator)
    const first = await askCoordinators(coordinator, server.getMultiaddrs()[0]!, { announce })
    expect(first.records.map((r) => r.peerId)).toEqual([server.peerId.toString(), coordinator.peerId.toString()])

    // A third peer cannot announce the coordinator (or anyone) but itself.
    const impostor = await node()
    await expect(
      askCoordinators(impostor, server.getMultiaddrs()[0]!, { announce: { ...announce, httpUrl: 'http://evil:1' } }),
    ).rejects.toThrow()
    expect(refused).toEqual(['malformed message: announce names another peer than the sender'])
    const plain = await askCoordinators(impostor, server.getMultiaddrs()[0]!)
    expect(plain.records.find((r) => r.peerId === coordinator.peerId.toString())?.httpUrl).toBeUndefined()
  })
})
