import { askCoordinators, type CoordinatorRecord, type Libp2p, multiaddr, serveCoordinators } from '@quorate/net'
import type { Logger } from 'pino'
import { type CandidateList, peerOf } from './candidates.ts'
import { AGENT_DEFAULTS } from './constants.ts'

/** Where the agent's coordinators come from besides its explicit list, and what it needs to ask them. */
export interface DiscoverySources {
  candidates: CandidateList
  logger: Logger
  /** Finds coordinators (e.g. the Registry's); its list replaces the last one it gave. */
  discover?: (() => Promise<string[]>) | undefined
  /** Peers (coordinators or agents) asked over `/quorate/coordinators/1.0.0`. */
  bootstrap: readonly string[]
  /** The coordinators this agent's slots are connected to now. */
  held(): string[]
  now(): number
}

/**
 * Serves `/quorate/coordinators/1.0.0` from the agent: it passes along only coordinators that
 * welcomed it lately, never ones it only heard of; a coordinator announcing itself is nominated.
 */
export async function serveVerifiedCoordinators(node: Libp2p, sources: DiscoverySources): Promise<void> {
  await serveCoordinators(node, {
    list: () =>
      sources.candidates.verified(sources.held(), AGENT_DEFAULTS.passAlongMaxAgeMs).map(
        (c): CoordinatorRecord => ({
          peerId: peerOf(c.addr),
          multiaddrs: [c.addr],
          lastSeen: c.lastSeen,
          ...(c.httpUrl === undefined ? {} : { httpUrl: c.httpUrl }),
        }),
      ),
    announced: (record, from) => sources.candidates.nominate(from, nominationsOf([record])),
    refused: (from, reason) => sources.logger.debug({ peer: from, reason }, 'refused a coordinators request'),
  })
}

/**
 * Asks every source for coordinators once: the `discover` function, each bootstrap peer and each
 * coordinator held now (coordinators list the others they know). A source that fails keeps what it named before.
 */
export async function discoverOnce(node: Libp2p | undefined, sources: DiscoverySources): Promise<void> {
  const { candidates, logger } = sources
  const asks: Promise<void>[] = []
  if (sources.discover !== undefined) {
    const discover = sources.discover
    asks.push(
      discover().then(
        (found) =>
          candidates.nominate(
            'registry',
            found.map((addr) => ({ addr })),
          ),
        (err: Error) => logger.warn({ error: err.message }, 'cannot discover coordinators; keeping the ones known'),
      ),
    )
  }
  if (node !== undefined) {
    const peers = new Map([...sources.bootstrap, ...sources.held()].map((addr) => [peerOf(addr), addr]))
    for (const [peer, addr] of peers) asks.push(askPeer(node, peer, addr, sources))
  }
  await Promise.all(asks)
  logger.debug({ coordinators: candidates.size }, 'discovered coordinators')
}

async function askPeer(node: Libp2p, peer: string, addr: string, sources: DiscoverySources): Promise<void> {
  try {
    const { records, problems } = await askCoordinators(node, multiaddr(addr), {
      signal: AbortSignal.timeout(AGENT_DEFAULTS.askTimeoutMs),
      now: sources.now,
    })
    if (problems.length > 0) sources.logger.warn({ peer, problems }, 'ignored parts of a peer’s coordinator list')
    sources.candidates.nominate(peer, nominationsOf(records))
  } catch (err) {
    sources.logger.debug({ peer, error: (err as Error).message }, 'cannot ask a peer for coordinators')
  }
}

/** A record's first multiaddr: one dial per coordinator. */
function nominationsOf(records: readonly CoordinatorRecord[]): Array<{ addr: string; httpUrl?: string }> {
  return records.map((r) => ({
    addr: r.multiaddrs[0] as string,
    ...(r.httpUrl === undefined ? {} : { httpUrl: r.httpUrl }),
  }))
}
