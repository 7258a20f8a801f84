import {
  askCoordinators,
  CoordinatorDirectory,
  type CoordinatorRecord,
  type Libp2p,
  multiaddr,
  RECORD_LIMITS,
  serveCoordinators,
} from '@quorate/net'
import type { Logger } from 'pino'

export interface CoordinatorDiscoveryOptions {
  node: Libp2p
  /** This coordinator as agents and submitters reach it. */
  self: Omit<CoordinatorRecord, 'lastSeen'>
  /** Peers to announce this coordinator to (and learn others from), multiaddrs ending in /p2p/<peerId>. */
  bootstrap: readonly string[]
  /** How often it announces itself again; entries not refreshed for 9 times this long expire. */
  intervalMs: number
  logger: Logger
}

/**
 * Makes a coordinator findable on an open network: it answers `/quorate/coordinators/1.0.0` with
 * itself and the coordinators it knows (those that announced themselves to it and those its
 * bootstrap peers list, each peer's share capped), and announces itself to its bootstrap peers
 * every `intervalMs`. A coordinator that stops announcing expires from the lists.
 */
export async function startCoordinatorDiscovery(options: CoordinatorDiscoveryOptions): Promise<{ stop(): void }> {
  const { node, logger } = options
  const directory = new CoordinatorDirectory({ ttlMs: options.intervalMs * 9 })
  directory.setSelf(options.self)
  await serveCoordinators(node, {
    list: () => directory.list(RECORD_LIMITS.maxRecords),
    announced: (record, from) => directory.add([record], from),
    refused: (from, reason) => logger.debug({ peer: from, reason }, 'refused a coordinators request'),
  })
  const unreachable = new Set<string>()
  const announce = async (addr: string) => {
    try {
      const { records, problems } = await askCoordinators(node, multiaddr(addr), {
        announce: options.self,
        signal: AbortSignal.timeout(5_000),
      })
      if (problems.length > 0) logger.warn({ peer: addr, problems }, 'ignored parts of a peer’s coordinator list')
      directory.add(records, addr.slice(addr.lastIndexOf('/p2p/') + 5))
      if (unreachable.delete(addr)) logger.info({ peer: addr }, 'bootstrap peer reachable again')
    } catch (err) {
      // Logged once per outage, not every round.
      if (!unreachable.has(addr))
        logger.warn({ peer: addr, error: (err as Error).message }, 'cannot announce to a bootstrap peer')
      unreachable.add(addr)
    }
  }
  const round = () => Promise.all(options.bootstrap.map(announce))
  await round()
  const timer = setInterval(() => void round(), options.intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
