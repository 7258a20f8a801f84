/**
 * @quorate/net: how Quorate processes talk libp2p.
 *
 * @example
 * ```ts
 * import { createQuorateNode, loadOrCreatePrivateKey, MessageChannel } from '@quorate/net'
 * const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(dataDir) })
 * const stream = await node.dialProtocol(multiaddr(coordinatorAddr), TASK_PROTOCOL)
 * const channel = new MessageChannel<CoordinatorMessage, AgentMessage>(stream)
 * ```
 */

export { multiaddr } from '@multiformats/multiaddr'
export type { Libp2p } from 'libp2p'
export { requestBlob } from './blob-client.ts'
export { type BlobProvider, type BlobServerOptions, serveBlobs } from './blob-server.ts'
export { ByteBudget } from './budget.ts'
export {
  type ChannelTotals,
  type CloseHandler,
  channelTotals,
  MessageChannel,
  type MessageChannelOptions,
  type MessageHandler,
} from './channel.ts'
export { CoordinatorDirectory, type CoordinatorDirectoryOptions } from './discovery/coordinator-directory.ts'
export {
  type CoordinatorRecord,
  RECORD_LIMITS,
  type ReadRecords,
  readCoordinatorRecord,
  readCoordinatorRecords,
} from './discovery/coordinator-record.ts'
export {
  type AskCoordinatorsOptions,
  type AskCoordinatorsResult,
  askCoordinators,
  COORDINATORS_PROTOCOL,
  type ServeCoordinatorsOptions,
  serveCoordinators,
} from './discovery/coordinators-protocol.ts'
export { loadOrCreatePrivateKey, PEER_KEY_FILE } from './keys.ts'
export { createQuorateNode, type QuorateNodeOptions } from './node.ts'
