import { AGENT_DEFAULTS } from './constants.ts'

/** A coordinator some source named, with what the agent learnt of it by dialing it. */
interface Candidate {
  addr: string
  peer: string
  /** Who named it: `explicit` (the agent's options), `registry`, or the PeerId of the peer that listed it. */
  source: string
  /** Its network neighbourhood, so an agent's coordinators are not all in one. */
  group: string
  httpUrl?: string
  /** When it last welcomed this agent: only then is it known to be a coordinator that works. */
  welcomedAt?: number
  failures: number
  /** The first failure since it last welcomed this agent. */
  failingSince?: number
}

/** A coordinator as a peer named it, before the agent has dialed it. */
export interface Nomination {
  addr: string
  httpUrl?: string
}

export interface CandidateListOptions {
  now?: () => number
  /** Most coordinators one peer's list may put here (not the explicit or the Registry's). @defaultValue 4 */
  maxPerSource?: number
  /** Most coordinators known at once. @defaultValue 64 */
  maxCandidates?: number
  /** A named coordinator is forgotten after this many failed dials in a row… @defaultValue 3 */
  forgetAfterFailures?: number
  /** …spanning at least this long. @defaultValue 15000 */
  forgetAfterMs?: number
  /** A forgotten coordinator is not taken back from any list for this long. @defaultValue 300000 */
  shunMs?: number
}

/**
 * The coordinators an agent knows now and the turn-taking among them. A peer's list only
 * nominates: a coordinator is verified when it welcomes the agent, and one that stays
 * unreachable is forgotten and not taken back for a while, whoever lists it again. Picking
 * prefers a coordinator in another network group, then from another source, than those held,
 * so one party's many identities do not take all of an agent's slots.
 */
export class CandidateList {
  #candidates: Candidate[] = []
  #cursor = 0
  readonly #shunned = new Map<string, number>()
  readonly #now: () => number
  readonly #limits: Required<Omit<CandidateListOptions, 'now'>>

  constructor(explicit: readonly string[], options: CandidateListOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#limits = {
      maxPerSource: options.maxPerSource ?? AGENT_DEFAULTS.candidatesPerSource,
      maxCandidates: options.maxCandidates ?? AGENT_DEFAULTS.maxCandidates,
      forgetAfterFailures: options.forgetAfterFailures ?? AGENT_DEFAULTS.forgetAfterFailures,
      forgetAfterMs: options.forgetAfterMs ?? AGENT_DEFAULTS.forgetAfterMs,
      shunMs: options.shunMs ?? AGENT_DEFAULTS.shunMs,
    }
    this.nominate(
      'explicit',
      explicit.map((addr) => ({ addr })),
    )
  }

  get size(): number {
    return this.#candidates.length
  }

  /**
   * Takes `source`'s current list in place of its last one (what it no longer names is dropped,
   * unless another source names it too). A peer's list is capped; the agent's own and the Registry's are not.
   */
  nominate(source: string, nominations: readonly Nomination[]): void {
    const capped = source !== 'explicit' && source !== 'registry'
    const now = this.#now()
    const others = this.#candidates.filter((c) => c.source !== source)
    const otherPeers = new Set(others.map((c) => c.peer))
    const keep = new Map(others.map((c) => [c.addr, c]))
    const previous = new Map(this.#candidates.filter((c) => c.source === source).map((c) => [c.addr, c]))
    let taken = 0
    for (const { addr, httpUrl } of nominations) {
      const peer = peerOf(addr)
      if (keep.has(addr) || otherPeers.has(peer) || (this.#shunned.get(peer) ?? 0) > now) continue
      if (capped && taken >= this.#limits.maxPerSource) break
      if (keep.size >= this.#limits.maxCandidates) break
      const known = previous.get(addr)
      const candidate: Candidate = known ?? { addr, peer, source, group: groupOf(addr), failures: 0 }
      if (httpUrl !== undefined) candidate.httpUrl = httpUrl
      keep.set(addr, candidate)
      taken++
    }
    // The order stays as it was, new ones at the end, so the turn carries on where it was.
    const order = new Map(this.#candidates.map((c, i) => [c.addr, i]))
    this.#candidates = [...keep.values()].sort(
      (a, b) => (order.get(a.addr) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.addr) ?? Number.MAX_SAFE_INTEGER),
    )
  }

  /**
   * The next address, in turn, whose coordinator is not one of `held` (multiaddrs), preferring one
   * in a network group none of `held` is in, then one another source named.
   */
  next(held: readonly string[]): string | undefined {
    const heldPeers = new Set(held.map(peerOf))
    const heldGroups = new Set(held.map(groupOf))
    const heldSources = new Set(this.#candidates.filter((c) => heldPeers.has(c.peer)).map((c) => c.source))
    const count = this.#candidates.length
    let best: { index: number; score: number } | undefined
    for (let i = 0; i < count; i++) {
      const index = (this.#cursor + i) % count
      const candidate = this.#candidates[index] as Candidate
      if (heldPeers.has(candidate.peer)) continue
      const score = (heldGroups.has(candidate.group) ? 0 : 2) + (heldSources.has(candidate.source) ? 0 : 1)
      if (best === undefined || score > best.score) best = { index, score }
    }
    if (best === undefined) return undefined
    this.#cursor = (best.index + 1) % count
    return this.#candidates[best.index]?.addr
  }

  /** The coordinator at `addr` welcomed the agent: it is verified. */
  welcomed(addr: string): void {
    const candidate = this.#find(addr)
    if (candidate === undefined) return
    candidate.welcomedAt = this.#now()
    candidate.failures = 0
    delete candidate.failingSince
  }

  /**
   * A dial of `addr` failed, or it hung up before welcoming. Returns true when that made the agent
   * forget it (never one given in the agent's options).
   */
  failed(addr: string): boolean {
    const candidate = this.#find(addr)
    if (candidate === undefined) return false
    const now = this.#now()
    candidate.failures++
    candidate.failingSince ??= now
    const { forgetAfterFailures, forgetAfterMs, shunMs } = this.#limits
    if (candidate.source === 'explicit') return false
    if (candidate.failures < forgetAfterFailures || now - candidate.failingSince < forgetAfterMs) return false
    this.#candidates = this.#candidates.filter((c) => c.peer !== candidate.peer || c.source === 'explicit')
    this.#shunned.set(candidate.peer, now + shunMs)
    for (const [peer, until] of this.#shunned) if (until <= now) this.#shunned.delete(peer)
    return true
  }

  /**
   * What this agent tells a peer that asks: the coordinators that welcomed it within `maxAgeMs`,
   * those in `connected` as seen now. Never one it only heard of.
   */
  verified(connected: readonly string[], maxAgeMs: number): Array<Nomination & { lastSeen: number }> {
    const now = this.#now()
    const live = new Set(connected.map(peerOf))
    return this.#candidates.flatMap((c) => {
      if (c.welcomedAt === undefined) return []
      const lastSeen = live.has(c.peer) ? now : c.welcomedAt
      if (now - lastSeen > maxAgeMs) return []
      return [{ addr: c.addr, lastSeen, ...(c.httpUrl === undefined ? {} : { httpUrl: c.httpUrl }) }]
    })
  }

  #find(addr: string): Candidate | undefined {
    return this.#candidates.find((c) => c.addr === addr)
  }
}

/** A coordinator's identity in its multiaddr, so two addresses of one coordinator share a slot. */
export function peerOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('/p2p/') + 5)
}

/**
 * The network neighbourhood of a multiaddr: an IPv4 /16, an IPv6 /32, a DNS name's last two
 * labels. Addresses in one group are likely one operator's, or one network's to lose.
 */
export function groupOf(addr: string): string {
  const [, proto, host] = addr.split('/')
  if (proto === 'ip4' && host !== undefined) return `ip4:${host.split('.').slice(0, 2).join('.')}`
  if (proto === 'ip6' && host !== undefined) return `ip6:${host.split(':').slice(0, 2).join(':')}`
  if (proto?.startsWith('dns') === true && host !== undefined) return `dns:${host.split('.').slice(-2).join('.')}`
  return `other:${proto ?? ''}`
}
