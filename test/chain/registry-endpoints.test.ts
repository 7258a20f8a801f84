// Coordinators publish how to reach them in the Registry, bounded and checked on chain; readers
// check every entry again, since it is whatever its coordinator wrote.
import {
  listCoordinators,
  registerCoordinator,
  registryInterface,
  SetCoordinatorEndpointsError,
  setCoordinatorEndpoints,
} from '@quorate/chain'
import { Contract, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainError, setupChain, type TestChain } from './setup.ts'

const PEER = '12D3KooWCoordinator'
const ADDR = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`

let chain: TestChain

beforeAll(async () => {
  chain = await setupChain({ providers: 1 })
}, 60_000)
afterAll(() => chain?.stop())

/** The Registry as an account sees it with no client-side checks, to reach the contract's own. */
function rawRegistry(privateKey: string): Contract {
  return new Contract(chain.addresses.registry, registryInterface, new Wallet(privateKey, chain.reader.provider))
}

async function revertName(call: Promise<unknown>): Promise<string> {
  try {
    await call
  } catch (err) {
    const data = (err as { data?: string }).data
    const parsed = data === undefined ? null : registryInterface.parseError(data)
    if (parsed !== null) return parsed.name
    throw err
  }
  throw new Error('expected a revert')
}

describe('coordinator endpoints in the Registry', () => {
  it('a registered coordinator publishes, replaces and withdraws its endpoints; readers list them', async () => {
    const client = chain.as(chain.coordinator)
    await setCoordinatorEndpoints(client, { multiaddrs: [ADDR], httpUrl: 'http://127.0.0.1:8080' })
    let [entry] = (await listCoordinators(chain.reader)).coordinators
    expect(entry).toMatchObject({ peerId: PEER, multiaddrs: [ADDR], httpUrl: 'http://127.0.0.1:8080', problems: [] })
    expect(entry?.coordinator.toLowerCase()).toBe(chain.coordinator.address.toLowerCase())
    expect(entry?.updatedAt).toBeGreaterThan(0n)

    const second = `/ip4/127.0.0.1/tcp/4002/p2p/${PEER}`
    await setCoordinatorEndpoints(client, { multiaddrs: [second, ADDR], httpUrl: '' })
    ;[entry] = (await listCoordinators(chain.reader)).coordinators
    expect(entry?.multiaddrs).toEqual([second, ADDR])
    expect(entry?.httpUrl).toBe('')

    await setCoordinatorEndpoints(client, { multiaddrs: [], httpUrl: '' })
    ;[entry] = (await listCoordinators(chain.reader)).coordinators
    expect(entry?.multiaddrs).toEqual([])
  })

  it('lists every registered coordinator in registration order, across pages', async () => {
    const [other] = chain.others
    if (other === undefined) throw new Error('no spare account')
    await registerCoordinator(chain.as(other), { peerId: '12D3KooWSecond' })
    const listed = (await listCoordinators(chain.reader)).coordinators.map((c) => c.peerId)
    expect(listed).toEqual([PEER, '12D3KooWSecond'])
    expect((await listCoordinators(chain.reader, { limit: 1 })).coordinators.map((c) => c.peerId)).toEqual([PEER])
    const page = (await rawRegistry(chain.others[1]?.privateKey as string).getFunction('coordinatorsPage')(
      5n,
      10n,
    )) as string[]
    expect([...page]).toEqual([])
  })

  it('the contract refuses unregistered callers, too many, empty, spaced, relative or oversized endpoints', async () => {
    const stranger = rawRegistry(chain.others[2]?.privateKey as string)
    expect(await revertName(stranger.getFunction('setCoordinatorEndpoints')([ADDR], ''))).toBe('NotRegistered')
    const registry = rawRegistry(chain.coordinator.privateKey)
    const set = registry.getFunction('setCoordinatorEndpoints')
    expect(await revertName(set(Array(9).fill(ADDR), ''))).toBe('TooManyEndpoints')
    expect(await revertName(set([''], ''))).toBe('InvalidEndpoint')
    expect(await revertName(set(['ip4/127.0.0.1'], ''))).toBe('InvalidEndpoint')
    expect(await revertName(set(['/ip4/127.0.0.1 /tcp/1'], ''))).toBe('InvalidEndpoint')
    expect(await revertName(set([`/${'a'.repeat(256)}`], ''))).toBe('InvalidEndpoint')
    expect(await revertName(set([ADDR], 'ftp://127.0.0.1'))).toBe('InvalidEndpoint')
    expect(await revertName(set([ADDR], 'http://x\u0001'))).toBe('InvalidEndpoint')
    await set(Array(8).fill(ADDR), `http://${'a'.repeat(249)}`).then((tx) => tx.wait())
    const [entry] = (await listCoordinators(chain.reader)).coordinators
    expect(entry?.multiaddrs).toHaveLength(8)
    expect(entry?.httpUrl).toHaveLength(256)
  })

  it('readers drop multiaddrs that do not name the registered PeerId, and say why', async () => {
    const registry = rawRegistry(chain.coordinator.privateKey)
    const foreign = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWSomeoneElse'
    await (await registry.getFunction('setCoordinatorEndpoints')([foreign, ADDR], 'http://127.0.0.1:1')).wait()
    const [entry] = (await listCoordinators(chain.reader)).coordinators
    expect(entry?.multiaddrs).toEqual([ADDR])
    expect(entry?.problems.join('\n')).toMatch(`must end in /p2p/${PEER}`)
  })

  it('the client refuses bad endpoints before sending anything', async () => {
    const client = chain.as(chain.coordinator)
    const err = await chainError(() => setCoordinatorEndpoints(client, { multiaddrs: ['tcp/1'], httpUrl: '' }))
    expect(err).toBeInstanceOf(SetCoordinatorEndpointsError)
    expect(err.message).toMatch('must start with "/"')
    const url = await chainError(() => setCoordinatorEndpoints(client, { multiaddrs: [], httpUrl: 'gopher://x' }))
    expect(url.message).toMatch('http:// or https://')
  })
})
