// A staked provider's region and zone in the Registry: set by the provider or its operator, bounded
// on chain; a paying coordinator places by them rather than by what the agent says in its hello.
import { join } from 'node:path'
import { createAgent } from '@quorate/agent'
import {
  createResultSigner,
  getProviderTopology,
  registerProvider,
  registryInterface,
  SetProviderTopologyError,
  setProviderTopology,
} from '@quorate/chain'
import type { ProviderView } from '@quorate/protocol'
import { Contract, Wallet } from 'ethers'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until } from '../helpers/until.ts'
import { chainError, MIN_STAKE, type PaidNetwork, startPaidNetwork } from './setup.ts'

let network: PaidNetwork

beforeAll(async () => {
  network = await startPaidNetwork({ price: 10n ** 16n, fee: 0n, providers: 1 })
}, 120_000)
afterAll(() => network?.stop())

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

describe('provider topology in the Registry', () => {
  it('is set by the provider or its operator only, and only with valid names', async () => {
    const { chain } = network
    const [account, operator, stranger] = chain.others as [
      (typeof chain.others)[0],
      (typeof chain.others)[0],
      (typeof chain.others)[0],
    ]
    await registerProvider(chain.as(account), {
      peerId: '12D3KooWTopologyProvider',
      operator: operator.address,
      stake: MIN_STAKE,
    })
    await setProviderTopology(chain.as(account), { provider: account.address, region: 'eu-west', zone: '' })
    expect(await getProviderTopology(chain.reader, { provider: account.address })).toMatchObject({ region: 'eu-west' })
    await setProviderTopology(chain.as(operator), { provider: account.address, region: 'us-east', zone: 'us-east-1b' })
    const set = await getProviderTopology(chain.reader, { provider: account.address })
    expect(set).toMatchObject({ region: 'us-east', zone: 'us-east-1b' })
    expect(set.updatedAt).toBeGreaterThan(0n)

    const raw = (key: string) =>
      new Contract(chain.addresses.registry, registryInterface, new Wallet(key, chain.reader.provider))
    const by = raw(stranger.privateKey)
    expect(await revertName(by.getFunction('setProviderTopology')(account.address, 'ap-south', ''))).toBe(
      'NotProviderOrOperator',
    )
    const own = raw(account.privateKey)
    for (const [region, zone, name] of [
      ['EU-West', '', 'InvalidTopology'],
      ['-eu', '', 'InvalidTopology'],
      ['a'.repeat(33), '', 'InvalidTopology'],
      ['', 'eu-west-1a', 'InvalidTopology'],
    ] as const) {
      expect(await revertName(own.getFunction('setProviderTopology')(account.address, region, zone))).toBe(name)
    }
    const refused = await chainError(() =>
      setProviderTopology(chain.as(account), { provider: account.address, region: 'Eu West', zone: '' }),
    )
    expect(refused.name).toBe(SetProviderTopologyError.name)
    expect(refused.message).toMatch(/region must be 1 to 32 lower-case letters/)
    expect(await getProviderTopology(chain.reader, { provider: account.address })).toMatchObject({ region: 'us-east' })
  })

  it('is what a paying coordinator uses for a staked provider, over the region its agent declares', async () => {
    const { chain, coordinator, dir } = network
    const provider = chain.providers[0] as (typeof chain.providers)[0]
    const peerId = network.peerIds[0] as string
    const providers = async () =>
      ((await (await fetch(`${coordinator.httpUrl}/v1/providers`)).json()) as { items: ProviderView[] }).items
    const restartDeclaring = async (region: string) => {
      await network.agents[0]?.stop({ drainTimeoutMs: 0 })
      const agent = createAgent({
        dataDir: join(dir, 'agent-0'),
        coordinator: coordinator.multiaddrs,
        operator: provider.address,
        threads: 1,
        region,
        logger: pino({ level: 'silent' }),
        signResult: createResultSigner(provider.privateKey),
      })
      network.agents[0] = agent
      await agent.start()
      await agent.ready
      return until(
        async () => (await providers()).find((p) => p.peerId === peerId && p.online && p.region !== undefined),
        { what: 'the provider online with a region' },
      )
    }
    // Nothing in the Registry yet: the declared region stands.
    expect(await restartDeclaring('ap-south')).toMatchObject({ region: 'ap-south' })
    await setProviderTopology(chain.as(provider), { provider: provider.address, region: 'eu-west', zone: 'eu-west-1a' })
    const row = await restartDeclaring('ap-south')
    expect(row).toMatchObject({ region: 'eu-west', zone: 'eu-west-1a' })
  })
})
