import type { AssignMessage, ProviderView } from '@quorate/protocol'
import { heldLimit, MAX_PROVIDER_PREFETCH, startQueued } from './agent-queue.ts'
import type { ReplicaRecord, SlotRef } from './shard-run.ts'

/** What the executor needs from a connected agent; the agent hub implements it over libp2p. */
export interface AgentLink {
  readonly peerId: string
  readonly operator: string | undefined
  /** Region and zone the agent declared in hello; self-declared, so used only to spread replicas. */
  readonly region?: string | undefined
  readonly zone?: string | undefined
  readonly capacity: number
  /** Assignments it holds queued beyond its capacity, as its hello said (absent: none). */
  readonly prefetch?: number | undefined
  /** Where the agent serves the blobs it holds (task outputs kept as blobs among them); undefined: none. */
  readonly blobAddrs?: readonly string[] | undefined
  /** Send one assignment; the link sends the module bytes first if this agent has not seen them. */
  assign(message: AssignMessage, module: { sha256: string; bytes: Uint8Array }): void
  cancel(assignmentId: string, reason: string): void
}

/** What this coordinator knows of one provider, connected or not. */
export interface ProviderRecord {
  peerId: string
  operator: string | undefined
  region: string | undefined
  zone: string | undefined
  capacity: number
  /** Assignments it is sent beyond its capacity, to hold queued: its claim, within this coordinator's bound. */
  prefetch: number
  /** Replicas sent to it that wait, by this coordinator's count, in its agent's queue; oldest first. */
  agentQueue: ReplicaRecord[]
  link: AgentLink | undefined
  draining: boolean
  /**
   * Since when it has been silent past its heartbeat window: it is drawn for no new work until it
   * is heard from again, and its running replicas are placed elsewhere after a bound.
   */
  suspectSince?: number
  running: number
  connectedAt?: number
  lastSeenAt: number
  quarantined?: { at: number; reason: string }
  /** Replica slots drawn for this provider, started as its slots free up. */
  backlog: SlotRef[]
  backlogHead: number
  /** Since when its freed slots have been held back for more to free up (`assign-hold.ts`). */
  holdSince?: number
  /** CPU it reported spending on replicas cancelled because their shard was already decided, in ms. */
  wastedCpuMs?: number
}

/** Declared capacity above this is not believed: only this many slots of a provider count. */
export const MAX_PROVIDER_SLOTS = 256

/** Online, heard from lately, not draining, not quarantined: may be given work. */
export function isServing(p: ProviderRecord): boolean {
  return p.link !== undefined && !p.draining && p.quarantined === undefined && p.suspectSince === undefined
}

/**
 * Online, not draining, not quarantined, perhaps suspect: it may serve again once heard from. A
 * shard waits for such a provider rather than being decided without it: agents busy with real work
 * fall silent together under load, and deciding then would leave the vote to whoever stayed idle.
 */
export function mayServe(p: ProviderRecord): boolean {
  return p.link !== undefined && !p.draining && p.quarantined === undefined
}

/** Serving, and holding fewer replicas than it may (`heldLimit`): it may be sent one more now. */
export function maySend(p: ProviderRecord): boolean {
  return isServing(p) && p.running < heldLimit(p)
}

/**
 * One replica on `p` ended (finished, lost, handed back or cancelled): its slot is free. Given the
 * time (and the replica, not yet marked ended), the agent's queue moves up now; otherwise at the
 * next placement, result or sweep.
 */
export function freeSlot(p: ProviderRecord, now?: number, ended?: ReplicaRecord): void {
  p.running = Math.max(0, p.running - 1)
  if (now !== undefined) startQueued(p, now, ended)
}

/**
 * The providers known to one executor, online or not, with their capacity and
 * how many replicas each runs. It keeps records; the executor decides what a
 * connection, a drain or a quarantine does to the work placed on them.
 */
export class ProviderRegistry {
  readonly #providers = new Map<string, ProviderRecord>()
  readonly #maxPrefetch: number

  /** `maxPrefetch`: this coordinator's bound on any provider's queue depth, whatever it claims. */
  constructor(maxPrefetch = MAX_PROVIDER_PREFETCH) {
    this.#maxPrefetch = maxPrefetch
  }

  get(peerId: string): ProviderRecord | undefined {
    return this.#providers.get(peerId)
  }

  all(): IterableIterator<ProviderRecord> {
    return this.#providers.values()
  }

  /** Record a new connection of `link` (a previous one must have been removed first). */
  connect(link: AgentLink, now: number): ProviderRecord {
    const record: ProviderRecord = this.#providers.get(link.peerId) ?? {
      peerId: link.peerId,
      operator: link.operator,
      region: link.region,
      zone: link.zone,
      capacity: 0,
      prefetch: 0,
      agentQueue: [],
      link: undefined,
      draining: false,
      running: 0,
      lastSeenAt: now,
      backlog: [],
      backlogHead: 0,
    }
    record.link = link
    record.operator = link.operator
    record.region = link.region
    record.zone = link.zone
    delete record.suspectSince
    record.capacity = Math.max(0, Math.min(Math.floor(link.capacity) || 0, MAX_PROVIDER_SLOTS))
    record.prefetch = Math.max(0, Math.min(Math.floor(link.prefetch ?? 0) || 0, this.#maxPrefetch))
    record.agentQueue = []
    record.draining = false
    record.running = 0
    record.connectedAt = now
    record.lastSeenAt = now
    this.#providers.set(link.peerId, record)
    return record
  }

  /** Providers that may be given work now. */
  get serving(): number {
    let n = 0
    for (const p of this.#providers.values()) if (isServing(p)) n++
    return n
  }

  /**
   * Replicas the serving providers may hold at once, queued ones with the running: how many shards
   * the coordinator takes from the backend, so every agent's queue can fill.
   */
  get capacity(): number {
    let total = 0
    for (const p of this.#providers.values()) if (isServing(p)) total += heldLimit(p)
    return total
  }

  /** Replicas the serving providers may be sent now (to run, or to hold queued). */
  get freeCapacity(): number {
    let free = 0
    for (const p of this.#providers.values()) {
      if (isServing(p)) free += Math.max(0, heldLimit(p) - p.running)
    }
    return free
  }

  isQuarantined(peerId: string): boolean {
    return this.#providers.get(peerId)?.quarantined !== undefined
  }

  /** Every provider's view, without counters (the backend adds those). */
  views(): ProviderView[] {
    return [...this.#providers.values()].map(providerView)
  }
}

/** A provider as the API shows it; counters are the backend's to fill in. */
export function providerView(p: ProviderRecord): ProviderView {
  const view: ProviderView = {
    peerId: p.peerId,
    online: p.link !== undefined,
    capacity: p.capacity,
    running: p.running,
    lastSeenAt: p.lastSeenAt,
    counters: { valid: 0, invalid: 0, timeouts: 0, lost: 0 },
  }
  if (p.operator !== undefined) view.operator = p.operator
  if (p.region !== undefined) view.region = p.region
  if (p.zone !== undefined) view.zone = p.zone
  if (p.suspectSince !== undefined && p.link !== undefined) view.suspect = true
  if (p.connectedAt !== undefined) view.connectedAt = p.connectedAt
  if (p.quarantined !== undefined) view.quarantined = { ...p.quarantined }
  if (p.wastedCpuMs !== undefined) view.wastedCpuMs = p.wastedCpuMs
  return view
}
