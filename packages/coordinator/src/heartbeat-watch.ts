import { InvalidOptionError } from '@quorate/protocol'

/** One agent connection as the watch sees it: when it was last heard from. */
export interface WatchedAgent {
  readonly peerId: string
  lastSeen: number
}

export interface HeartbeatWatchOptions {
  /** How often agents send heartbeats (the welcome tells them). */
  heartbeatMs: number
  /** Silence after which an agent is suspect: drawn for no new work until it is heard from. */
  suspectAfterMs: number
  /** Further silence, once suspect, after which its running replicas are placed elsewhere. */
  reclaimAfterMs: number
  /** Silence after which its connection is closed. */
  dropAfterMs: number
}

/** What the watch decided about one agent on one check. */
export type WatchVerdict = 'suspect' | 'reclaim' | 'drop'

/**
 * Decides, on each check, which silent agents become suspect, which suspects
 * lose their running replicas, and which are dropped. A suspect is cleared by
 * any frame (`heard`). A check that runs late means this process itself
 * stalled and has not read what the agents sent meanwhile: it then suspects
 * and reclaims nothing, so a pause of the coordinator does not turn every
 * agent's work into re-runs.
 */
export class HeartbeatWatch {
  readonly #options: HeartbeatWatchOptions
  readonly #suspect = new Map<string, { reclaimed: boolean }>()
  readonly #dropped = new Set<string>()
  #lastCheck: number | undefined

  constructor(options: HeartbeatWatchOptions) {
    const { heartbeatMs, suspectAfterMs, reclaimAfterMs, dropAfterMs } = options
    if (!(suspectAfterMs > heartbeatMs)) {
      throw new InvalidOptionError(
        'suspectAfterMs',
        `must be more than one heartbeat (${heartbeatMs} ms)`,
        suspectAfterMs,
      )
    }
    if (!(reclaimAfterMs >= 0)) throw new InvalidOptionError('reclaimAfterMs', 'must be ≥ 0', reclaimAfterMs)
    if (!(dropAfterMs >= suspectAfterMs)) {
      throw new InvalidOptionError('dropAfterMs', `must be ≥ suspectAfterMs (${suspectAfterMs} ms)`, dropAfterMs)
    }
    this.#options = options
  }

  /** How often to check: often enough that a verdict comes within a quarter heartbeat of its time. */
  get intervalMs(): number {
    return Math.max(50, Math.floor(this.#options.heartbeatMs / 4))
  }

  /** The agent sent a frame; true if it was suspect (and no longer is). */
  heard(agent: WatchedAgent, now: number): boolean {
    agent.lastSeen = now
    this.#dropped.delete(agent.peerId)
    return this.#suspect.delete(agent.peerId)
  }

  /** The agent's connection ended. */
  forget(peerId: string): void {
    this.#suspect.delete(peerId)
    this.#dropped.delete(peerId)
  }

  isSuspect(peerId: string): boolean {
    return this.#suspect.has(peerId)
  }

  /** The verdicts due at `now`, each given once per silence; none on a late check. */
  check(agents: Iterable<WatchedAgent>, now: number): Array<{ agent: WatchedAgent; verdict: WatchVerdict }> {
    const { heartbeatMs, suspectAfterMs, reclaimAfterMs, dropAfterMs } = this.#options
    const late = this.#lastCheck !== undefined && now - this.#lastCheck > this.intervalMs + heartbeatMs / 2
    this.#lastCheck = now
    if (late) return []
    const verdicts: Array<{ agent: WatchedAgent; verdict: WatchVerdict }> = []
    for (const agent of agents) {
      const silent = now - agent.lastSeen
      if (silent > dropAfterMs) {
        if (!this.#dropped.has(agent.peerId)) verdicts.push({ agent, verdict: 'drop' })
        this.#dropped.add(agent.peerId)
        continue
      }
      const suspect = this.#suspect.get(agent.peerId)
      if (suspect === undefined) {
        if (silent <= suspectAfterMs) continue
        this.#suspect.set(agent.peerId, { reclaimed: false })
        verdicts.push({ agent, verdict: 'suspect' })
      }
      const marked = this.#suspect.get(agent.peerId) as { reclaimed: boolean }
      if (!marked.reclaimed && silent > suspectAfterMs + reclaimAfterMs) {
        marked.reclaimed = true
        verdicts.push({ agent, verdict: 'reclaim' })
      }
    }
    return verdicts
  }
}
