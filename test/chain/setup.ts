// A fresh anvil with Quorate deployed, per test file: roles, funded
// accounts, and the invariant every test checks at the end.
import {
  type AnvilInstance,
  type ChainClient,
  ChainError,
  createChainClient,
  type DevAccount,
  deployQuorate,
  destroyChainClient,
  getAccount,
  getJob,
  getTokenBalance,
  type QuorateAddresses,
  registerCoordinator,
  registerProvider,
  registryInterface,
  startAnvil,
  withAccount,
} from '@quorate/chain'
import { Contract } from 'ethers'

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
