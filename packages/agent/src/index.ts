/**
 * @quorate/agent: the worker agent a provider runs.
 *
 * @example
 * ```ts
 * import { createAgent } from '@quorate/agent'
 * const agent = createAgent({ dataDir: '.quorate/agent', coordinator: '/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…' })
 * await agent.start()
 * ```
 */
export {
  type Agent,
  type AgentOptions,
  agentPeerId,
  createAgent,
  type ResultSignature,
  type ResultSignatureRequest,
} from './agent.ts'
export type { AgentClock } from './clock.ts'
export { AGENT_DEFAULTS } from './constants.ts'
export type { CoordinatorLink } from './link.ts'
export { AGENT_VERSION } from './version.ts'
