// A fresh anvil with Quorate deployed, per test file: roles, funded
// accounts, and the invariant every test checks at the end; and a paid
// network on it (a coordinator settling there, with staked agents).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Agent, agentPeerId, createAgent } from '@quorate/agent'
import {
  type ChainClient,
  ChainError,
  createChainClient,
  createResultSigner,
  destroyChainClient,
  getAccount,
  getJob,
  getTokenBalance,
  type QuorateAddresses,
  registerCoordinator,
  registerProvider,
  registryInterface,
  withAccount,
} from '@quorate/chain'
import { type AnvilInstance, type DevAccount, deployQuorate, startAnvil } from '@quorate/chain/dev'
import { type Coordinator, createCoordinator } from '@quorate/coordinator'
import { Contract } from 'ethers'
import { type Logger, pino } from 'pino'

export const TOKEN = 10n ** 18n
export const MIN_STAKE = 100n * TOKEN
export const SLASH = 10n * TOKEN
export const DISPUTE_WINDOW = 3600n
export const MAX_JOB_DURATION = 86_400n
export const UNBONDING_DELAY = 2n * 86_400n

export interface TestChain {
  anvil: AnvilInstance
  addresses: QuorateAddresses
  /** Read-only client. */
  reader: ChainClient
  as(account: DevAccount): ChainClient
  deployer: DevAccount
  submitter: DevAccount
  coordinator: DevAccount
  providers: DevAccount[]
  /** Unregistered accounts with tokens, for attackers and spares. */
  others: DevAccount[]
  /** Latest block timestamp. */
  now(): Promise<bigint>
  /** Every account the escrow might owe, plus budgets of still-funded jobs, vs the tokens it holds. */
  escrowBooks(jobIds: readonly string[]): Promise<{ owed: bigint; escrowed: bigint; held: bigint }>
  /** The Registry's counters vs the tokens it holds. */
  registryBooks(): Promise<{ staked: bigint; unbonding: bigint; slashed: bigint; held: bigint }>
  stop(): Promise<void>
}

export interface SetupOptions {
  providers?: number
  /** Register providers (with MIN_STAKE × 2) and the coordinator. @defaultValue true */
  register?: boolean
}

export async function setupChain(options: SetupOptions = {}): Promise<TestChain> {
  const anvil = await startAnvil({ accounts: 16 })
  try {
    const [deployer, submitter, coordinator, ...rest] = anvil.accounts as [
      DevAccount,
      DevAccount,
      DevAccount,
      ...DevAccount[],
    ]
    const providers = rest.slice(0, options.providers ?? 5)
    const others = rest.slice(options.providers ?? 5)
    const { addresses, client: deployerClient } = await deployQuorate({
      rpcUrl: anvil.rpcUrl,
      deployer: deployer.privateKey,
      minProviderStake: MIN_STAKE,
      slashAmount: SLASH,
      unbondingDelay: UNBONDING_DELAY,
      disputeWindow: DISPUTE_WINDOW,
      maxJobDuration: MAX_JOB_DURATION,
      fund: [submitter, coordinator, ...providers, ...others].map((a) => ({
        address: a.address,
        amount: 10_000n * TOKEN,
      })),
      pollingIntervalMs: 20,
    })
    destroyChainClient(deployerClient)
    const reader = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses, pollingIntervalMs: 20, retryDelayMs: 20 })
    const as = (account: DevAccount) => withAccount(reader, account.privateKey)
    if (options.register ?? true) {
      await registerCoordinator(as(coordinator), { peerId: '12D3KooWCoordinator' })
      await Promise.all(
        providers.map((p, i) => registerProvider(as(p), { peerId: `12D3KooWProvider${i}`, stake: 2n * MIN_STAKE })),
      )
    }
    const now = async () => BigInt((await reader.provider.getBlock('latest'))?.timestamp ?? 0)
    const everyone = [deployer, submitter, coordinator, ...providers, ...others]
    return {
      anvil,
      addresses,
      reader,
      as,
      deployer,
      submitter,
      coordinator,
      providers,
      others,
      now,
      async escrowBooks(jobIds) {
        let owed = 0n
        for (const a of everyone) owed += (await getAccount(reader, { account: a.address })).owed
        let escrowed = 0n
        for (const jobId of jobIds) {
          const job = await getJob(reader, { jobId })
          if (job.status === 'funded') escrowed += job.budget
        }
        return { owed, escrowed, held: await getTokenBalance(reader, addresses.escrow) }
      },
      async registryBooks() {
        const registry = new Contract(addresses.registry, registryInterface, reader.provider)
        const read = (name: string) => registry.getFunction(name)() as Promise<bigint>
        const [staked, unbonding, slashed] = await Promise.all([
          read('totalStaked'),
          read('totalUnbonding'),
          read('totalSlashed'),
        ])
        return { staked, unbonding, slashed, held: await getTokenBalance(reader, addresses.registry) }
      },
      async stop() {
        destroyChainClient(reader)
        await anvil.stop()
      },
    }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

/** Runs `fn`, expecting a ChainError; returns it for assertions. */
export async function chainError(fn: () => Promise<unknown>): Promise<ChainError> {
  try {
    await fn()
  } catch (err) {
    if (err instanceof ChainError) return err
    throw err
  }
  throw new Error('expected a ChainError, but the call succeeded')
}

/** A spec hash as the protocol makes them: sha256 hex without 0x. */
export function specHashOf(n: number): string {
  return n.toString(16).padStart(64, 'a')
}

export interface PaidNetwork {
  chain: TestChain
  dir: string
  coordinator: Coordinator
  agents: Agent[]
  /** The agents' PeerIds, in the order of `chain.providers`. */
  peerIds: string[]
  stop(): Promise<void>
}

/**
 * A real anvil with Quorate deployed, a coordinator that settles on it
 * (registered under its PeerId), and one agent per provider account, each
 * registered with MIN_STAKE and signing its results with its own key.
 */
export async function startPaidNetwork(options: {
  price: bigint
  fee: bigint
  /** Least time a job's escrow must have left at submission. @defaultValue the coordinator's (120 s) */
  minSecondsLeft?: number
  providers?: number
  logger?: Logger
}): Promise<PaidNetwork> {
  const chain = await setupChain({ providers: options.providers ?? 3, register: false })
  const dir = await mkdtemp(join(tmpdir(), 'quorate-paid-network-'))
  const agents: Agent[] = []
  const peerIds: string[] = []
  const coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    heartbeatMs: 500,
    logger: options.logger ?? pino({ level: 'silent' }),
    chain: {
      rpcUrl: chain.anvil.rpcUrl,
      addresses: chain.addresses,
      privateKey: chain.coordinator.privateKey,
      minStake: MIN_STAKE,
      pricePerReplica: options.price,
      fee: options.fee,
      ...(options.minSecondsLeft === undefined ? {} : { minSecondsLeft: options.minSecondsLeft }),
      pollingIntervalMs: 20,
    },
  })
  const stop = async () => {
    await Promise.all(agents.map((a) => a.stop({ drainTimeoutMs: 0 })))
    await coordinator.stop()
    await chain.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await coordinator.start()
    await registerCoordinator(chain.as(chain.coordinator), { peerId: coordinator.peerId })
    for (const [i, provider] of chain.providers.entries()) {
      const dataDir = join(dir, `agent-${i}`)
      const peerId = await agentPeerId(dataDir)
      peerIds.push(peerId)
      await registerProvider(chain.as(provider), { peerId, operator: provider.address, stake: MIN_STAKE })
      const agent = createAgent({
        dataDir,
        coordinator: coordinator.multiaddrs,
        operator: provider.address,
        threads: 1,
        logger: pino({ level: 'silent' }),
        signResult: createResultSigner(provider.privateKey),
      })
      await agent.start()
      agents.push(agent)
    }
    await Promise.all(agents.map((a) => a.ready))
  } catch (err) {
    await stop()
    throw err
  }
  return { chain, dir, coordinator, agents, peerIds, stop }
}
