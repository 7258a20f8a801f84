import type { AgentMessage, CoordinatorMessage } from '@quorate/protocol'

/**
 * One connection to a coordinator, as the agent sees it: `@quorate/net`'s `MessageChannel` over a
 * libp2p stream in production, an in-memory pair in unit tests.
 */
export interface CoordinatorLink {
  /** The coordinator's peer id, as its connection proved it (absent on an in-memory link). */
  readonly peerId?: string
  send(message: AgentMessage): unknown
  onMessage(handler: (message: CoordinatorMessage) => void): void
  onClose(handler: (error?: Error) => void): void
  close(): Promise<void>
}
