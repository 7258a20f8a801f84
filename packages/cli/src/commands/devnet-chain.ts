// The devnet's local chain: anvil with the Registry, Escrow and token deployed, funded
// accounts for everyone, and each agent registered and staked before it connects.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import {
  type ChainClient,
  createChainClient,
  getTokenDisplay,
  type QuorateAddresses,
  registerProvider,
  withAccount,
} from '@quorate/chain'
import { type AnvilInstance, type DevAccount, deployQuorate, startAnvil } from '@quorate/chain/dev'
import { formatTokens, type TokenDisplay } from '../tokens.ts'

const TOKEN = 10n ** 18n
/** What the devnet coordinator pays per replica in a shard's majority, and its fee per job. */
export const PRICE = TOKEN
export const FEE = TOKEN
export const STAKE = 100n * TOKEN

/** The devnet's local chain: anvil, the deployed contracts and who is who. */
export interface Devchain {
  anvil: AnvilInstance
  client: ChainClient
  addresses: QuorateAddresses
  submitter: DevAccount
  coordinator: DevAccount
  providers: DevAccount[]
  /** Accounts for the adversaries that register like providers (`--liars`, …). */
  spare: DevAccount[]
  /** The token's symbol and decimals, read from it, to print amounts as every other command does. */
  token: TokenDisplay
}

/** Start anvil, deploy the contracts and fund everyone who will need tokens. */
export async function startDevchain(agentCount: number, say: (line: string) => void, spare = 0): Promise<Devchain> {
  const anvil = await startAnvil({ accounts: agentCount + 3 + spare })
  try {
    const [deployer, submitter, coordinator, ...providers] = anvil.accounts
    if (deployer === undefined || submitter === undefined || coordinator === undefined) {
      throw new Error('anvil created too few accounts')
    }
    const { addresses } = await deployQuorate({
      rpcUrl: anvil.rpcUrl,
      deployer: deployer.privateKey,
      fund: [submitter, coordinator, ...providers].map((a) => ({ address: a.address, amount: 1000n * TOKEN })),
    })
    const client = await createChainClient({ rpcUrl: anvil.rpcUrl, addresses, pollingIntervalMs: 50 })
    say(`devnet: anvil (pid ${anvil.pid}) at ${anvil.rpcUrl}, chain ${anvil.chainId}`)
    say(`devnet: escrow ${addresses.escrow}, registry ${addresses.registry}, token ${addresses.token}`)
    return {
      anvil,
      client,
      addresses,
      submitter,
      coordinator,
      providers: providers.slice(0, agentCount),
      spare: providers.slice(agentCount, agentCount + spare),
      token: await getTokenDisplay(client),
    }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

/**
 * Register each agent's PeerId with its own key and stake, before anyone connects. The coordinator
 * registered itself (and published its addresses) when it started with --rpc.
 */
export async function registerParticipants(
  chain: Devchain,
  root: string,
  agentCount: number,
  say: (line: string) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: agentCount }, async (_, i) => {
      const name = `agent-${i + 1}`
      const account = chain.providers[i]
      if (account === undefined) throw new Error(`no chain account for ${name}`)
      const dataDir = join(root, name)
      await writeKey(join(dataDir, 'operator.key'), account.privateKey)
      const peerId = await agentPeerId(dataDir)
      const registered = await registerProvider(withAccount(chain.client, account.privateKey), {
        peerId,
        operator: account.address,
        stake: STAKE,
      })
      say(
        `devnet: ${name} registered as provider ${account.address}, staked ${formatTokens(STAKE, chain.token)} (tx ${registered.hash})`,
      )
    }),
  )
}

/**
 * The flags a `quorate submit` needs against this devnet. Its coordinator takes
 * payment when there is a chain, so the line names a funded payer's key (written
 * beside the agents' keys) and the chain, exactly as a user would pay.
 */
export async function submitFlags(httpUrl: string, root: string, chain: Devchain | undefined): Promise<string> {
  if (chain === undefined) return `-c ${httpUrl}`
  const keyFile = await writeKey(join(root, 'payer.key'), chain.submitter.privateKey)
  // A cap rather than --yes: the line runs without a question, and never pays more than the demo job costs.
  return `-c ${httpUrl} --key-file ${keyFile} --rpc ${chain.anvil.rpcUrl} --registry ${chain.addresses.registry} --max-budget 10tokens`
}

export async function writeKey(path: string, privateKey: string): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, `${privateKey}\n`, { mode: 0o600 })
  return path
}
