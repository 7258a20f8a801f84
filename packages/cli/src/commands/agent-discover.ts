import { type ChainClient, createChainClient, destroyChainClient, listCoordinators } from '@quorate/chain'
import type { Logger } from 'pino'
import { UsageError } from '../output.ts'

export interface RegistryDiscovery {
  /** The first checked multiaddr of each registered coordinator that published one. */
  discover(): Promise<string[]>
  close(): void
}

/**
 * Finds coordinators in the Registry for an agent started without `--coordinator`. Entries are
 * untrusted: `listCoordinators` keeps only multiaddrs that pass the Registry's own bounds and
 * name the coordinator's registered PeerId; what it drops is logged.
 */
export async function registryDiscovery(rpcUrl: string, registry: string, logger: Logger): Promise<RegistryDiscovery> {
  const placeholder = `0x${'0'.repeat(40)}`
  let client: ChainClient
  try {
    client = await createChainClient({
      rpcUrl,
      addresses: { token: placeholder, registry, escrow: placeholder },
      rpcAttempts: 3,
    })
  } catch (err) {
    throw new UsageError(`--rpc ${rpcUrl}: ${(err as Error).message}`)
  }
  return {
    async discover() {
      const { coordinators } = await listCoordinators(client)
      for (const entry of coordinators) {
        if (entry.problems.length > 0) {
          logger.warn({ coordinator: entry.coordinator, problems: entry.problems }, 'ignored parts of a Registry entry')
        }
      }
      return coordinators.flatMap((entry) => entry.multiaddrs.slice(0, 1))
    },
    close: () => destroyChainClient(client),
  }
}
