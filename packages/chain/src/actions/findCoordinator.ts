import { getAddress } from 'ethers'
import type { ChainClient } from '../client.ts'
import { registryInterface } from '../contracts.ts'
import { ChainError, type ChainErrorOptions, type DecodedRevert } from '../errors.ts'
import { toActionError } from '../internal.ts'
import { withRetry } from '../retry.ts'
import { getCoordinator } from './getCoordinator.ts'

export interface FindCoordinatorParameters {
  /** The coordinator's libp2p PeerId, as its `GET /v1/info` reports it. */
  peerId: string
  /** First block to search. @defaultValue 0 */
  fromBlock?: number
}
export interface FindCoordinatorReturnType {
  /** The account that registered this PeerId first, or undefined if none did. */
  coordinator: string | undefined
  /** Every account registered with this PeerId, earliest first. */
  candidates: string[]
}

export class FindCoordinatorError extends ChainError {
  override name = 'FindCoordinatorError'
  constructor(failure: DecodedRevert, options?: ChainErrorOptions) {
    super('findCoordinator', failure, options)
  }
}

/**
 * The account a coordinator registered in the Registry under its PeerId,
 * from the Registry's `CoordinatorRegistered` events. The Registry does not
 * keep PeerIds unique for coordinators, so another account could register a
 * copy later: the earliest registration is returned as `coordinator`, and
 * every one in `candidates`.
 *
 * Reads logs from `fromBlock` to the latest block in one request; RPC
 * providers that cap log ranges need a recent `fromBlock`.
 *
 * @example
 * ```ts
 * const { coordinator } = await findCoordinator(client, { peerId: (await sdk.info()).peerId })
 * if (coordinator === undefined) console.log('this coordinator is not registered: it does not charge on this chain')
 * ```
 */
export async function findCoordinator(
  client: ChainClient,
  params: FindCoordinatorParameters,
): Promise<FindCoordinatorReturnType> {
  const event = registryInterface.getEvent('CoordinatorRegistered')
  if (event === null) throw new Error('the Registry ABI has no CoordinatorRegistered event')
  let logs: Awaited<ReturnType<ChainClient['provider']['getLogs']>>
  try {
    logs = await withRetry(
      () =>
        client.provider.getLogs({
          address: client.addresses.registry,
          topics: [event.topicHash],
          fromBlock: params.fromBlock ?? 0,
          toBlock: 'latest',
        }),
      { attempts: client.options.rpcAttempts, delayMs: client.options.retryDelayMs },
    )
  } catch (err) {
    throw toActionError(FindCoordinatorError, err)
  }
  const candidates: string[] = []
  for (const log of logs) {
    const parsed = registryInterface.parseLog({ topics: [...log.topics], data: log.data })
    if (parsed === null || parsed.args.peerId !== params.peerId) continue
    const account = getAddress(String(parsed.args.coordinator))
    if (!candidates.includes(account)) candidates.push(account)
  }
  // A registration is for life today; reading it back keeps this right if that changes.
  const current: string[] = []
  for (const account of candidates) {
    const info = await getCoordinator(client, { coordinator: account })
    if (info.registered && info.peerId === params.peerId) current.push(account)
  }
  return { coordinator: current[0], candidates: current }
}
