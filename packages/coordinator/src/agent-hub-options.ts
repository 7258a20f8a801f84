// What an AgentHub is given: its options (limits on strangers, heartbeats, admission) and the
// clock and connection surfaces tests replace.
import { UNWELCOMED_MAX_FRAME_BYTES } from '@quorate/protocol'
import type { ResultEvidence } from './agent-session.ts'
import type { BlobSources } from './blob-sources.ts'

/** The hub's view of time, injectable so tests need not wait on the wall clock. */
export interface HubClock {
  now(): number
  setTimeout(fn: () => void, ms: number): { cancel(): void }
}

export const systemClock: HubClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
}

/** The stream surface the hub needs: a libp2p stream, or an in-memory one in tests. */
export interface HubConnection {
  remotePeer: { toString(): string }
  close(options?: { signal?: AbortSignal }): Promise<void>
  abort(err: Error): void
}

export interface AgentHubOptions {
  heartbeatMs: number
  /**
   * A stream that has not said hello within this long is closed, with its connection.
   * @defaultValue 10000
   */
  helloTimeoutMs?: number
  /**
   * Largest frame accepted before hello (checked from the length prefix, before buffering).
   * @defaultValue {@link UNWELCOMED_MAX_FRAME_BYTES} (4 KiB)
   */
  unwelcomedFrameBytes?: number
  /**
   * Bytes buffered from all peers not yet welcomed, together; a stream that would go over is closed.
   * @defaultValue 8 MiB
   */
  unwelcomedBudgetBytes?: number
  /**
   * Streams not yet welcomed at once; more are closed on arrival.
   * @defaultValue 512
   */
  maxUnwelcomed?: number
  /**
   * Decide whether a provider that said hello may be given work; resolves to
   * the reason it may not, or undefined. @defaultValue everyone is admitted
   */
  admit?: (peerId: string, operator: string | undefined) => Promise<string | undefined>
  /**
   * Where an admitted provider runs by an authority other than its hello (the Registry, for staked
   * providers): when it names a region, that region and zone replace the ones the agent declared.
   * @defaultValue the hello's region and zone
   */
  topologyOf?: (peerId: string) => { region: string; zone: string | undefined } | undefined
  /** Ask agents to sign results of chain-paid jobs, and check the signatures that come back. */
  evidence?: ResultEvidence
  /** Names the sources of inputs given by reference in each assignment. */
  blobs?: BlobSources
  missedHeartbeats: number
  /**
   * Silence after which an agent is suspect: given no new work until it is heard from again.
   * @defaultValue `suspectAfterHeartbeats` (2) heartbeats
   */
  suspectAfterMs?: number
  /**
   * Further silence, once suspect, after which its running replicas are placed elsewhere.
   * @defaultValue 1000
   */
  reclaimAfterMs?: number
  maxFrameBytes?: number
}
