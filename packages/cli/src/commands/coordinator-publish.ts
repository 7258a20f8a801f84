import {
  createChainClient,
  destroyChainClient,
  getCoordinator,
  getCoordinatorEndpoints,
  MAX_COORDINATOR_MULTIADDRS,
  type QuorateAddresses,
  registerCoordinator,
  setCoordinatorEndpoints,
  withAccount,
} from '@quorate/chain'
import type { Logger } from 'pino'

export interface PublishOptions {
  rpcUrl: string
  addresses: QuorateAddresses
  /** The coordinator's EVM key: the Registry entry is the account's own. */
  privateKey: string
  peerId: string
  multiaddrs: string[]
  httpUrl: string
  logger: Logger
}

/** What the Registry says after publishing. */
export interface PublishResult {
  account: string
  registered: boolean
  published: boolean
  txs: string[]
}

/**
 * Makes the coordinator findable: registers its account under its PeerId if it is not yet, then
 * writes its multiaddrs and HTTP URL into the Registry unless they are there already, so a
 * restart on the same addresses sends nothing. Agents started with only `--registry` read them.
 */
export async function publishCoordinator(options: PublishOptions): Promise<PublishResult> {
  const reader = await createChainClient({ rpcUrl: options.rpcUrl, addresses: options.addresses })
  try {
    const client = withAccount(reader, options.privateKey)
    const account = client.account?.address as string
    const txs: string[] = []
    let entry = await getCoordinator(client, { coordinator: account })
    const registered = !entry.registered
    if (!entry.registered) {
      txs.push((await registerCoordinator(client, { peerId: options.peerId })).hash)
      entry = await getCoordinator(client, { coordinator: account })
    }
    if (entry.peerId !== options.peerId) {
      // Readers accept only multiaddrs naming the registered PeerId, so these would be dropped.
      options.logger.warn(
        { registered: entry.peerId, peerId: options.peerId },
        'the Registry names another PeerId for this account; endpoints not published',
      )
      return { account, registered, published: false, txs }
    }
    const multiaddrs = options.multiaddrs.slice(0, MAX_COORDINATOR_MULTIADDRS)
    const current = await getCoordinatorEndpoints(client, { coordinator: account })
    const same = current.httpUrl === options.httpUrl && current.multiaddrs.join('\n') === multiaddrs.join('\n')
    if (!same) txs.push((await setCoordinatorEndpoints(client, { multiaddrs, httpUrl: options.httpUrl })).hash)
    options.logger.info({ account, multiaddrs, httpUrl: options.httpUrl, txs }, 'published in the Registry')
    return { account, registered, published: true, txs }
  } finally {
    destroyChainClient(reader)
  }
}
