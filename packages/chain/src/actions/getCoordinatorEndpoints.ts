import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { httpUrlProblem, MAX_COORDINATOR_MULTIADDRS, multiaddrProblem } from '../coordinator-endpoints.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { readContract } from '../internal.ts'

export interface GetCoordinatorEndpointsParameters {
  coordinator: string
}

/** A registered coordinator and how to reach it, as checked on reading. */
export interface CoordinatorEntry {
  coordinator: string
  peerId: string
  /** Only the published multiaddrs that passed the checks (each ends in `/p2p/<peerId>`). */
  multiaddrs: string[]
  /** '' when none was published or it failed the checks. */
  httpUrl: string
  /** Unix seconds of the last update; 0n when it never published. */
  updatedAt: bigint
  /** What was dropped and why (an entry is untrusted input). */
  problems: string[]
}

export class GetCoordinatorEndpointsError extends ChainError {
  override name = 'GetCoordinatorEndpointsError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('getCoordinatorEndpoints', failure, options)
  }
}

/** A coordinator's PeerId and published endpoints, each checked again as the Registry would. */
export async function getCoordinatorEndpoints(
  client: ChainClient,
  params: GetCoordinatorEndpointsParameters,
): Promise<CoordinatorEntry> {
  const { coordinator } = params
  const [info, endpoints] = await Promise.all([
    read(client, 'getCoordinator', [coordinator]),
    read(client, 'getCoordinatorEndpoints', [coordinator]),
  ])
  const c = info as Record<string, unknown>
  const e = endpoints as Record<string, unknown>
  const peerId = String(c.peerId)
  const problems: string[] = []
  const published = [...(e.multiaddrs as string[])]
  if (published.length > MAX_COORDINATOR_MULTIADDRS)
    problems.push(`${published.length} multiaddrs, more than ${MAX_COORDINATOR_MULTIADDRS}`)
  const multiaddrs: string[] = []
  for (const addr of published.slice(0, MAX_COORDINATOR_MULTIADDRS)) {
    const problem = multiaddrProblem(addr, peerId)
    if (problem === undefined) multiaddrs.push(addr)
    else problems.push(`multiaddr ${JSON.stringify(addr.slice(0, 80))} ${problem}`)
  }
  const urlProblem = httpUrlProblem(e.httpUrl)
  if (urlProblem !== undefined) problems.push(`httpUrl ${urlProblem}`)
  return {
    coordinator,
    peerId,
    multiaddrs,
    httpUrl: urlProblem === undefined ? String(e.httpUrl) : '',
    updatedAt: e.updatedAt as bigint,
    problems,
  }
}

function read(client: ChainClient, name: string, args: unknown[]): Promise<unknown> {
  return readContract(client, GetCoordinatorEndpointsError, registryInterface, client.addresses.registry, name, args)
}
