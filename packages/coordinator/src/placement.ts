import { waitCauseOf, waitingReason } from '@quorate/protocol'
import { heldLimit } from './agent-queue.ts'
import { isServing, mayServe, type ProviderRecord, type ProviderRegistry } from './provider-registry.ts'
import type { ShardRun, SlotRef } from './shard-run.ts'

/** The one waiting reason that is plain queueing, not a shard that cannot be placed. */
export const WAITING_BUSY = waitingReason({ kind: 'busy' })

export interface PlacementOptions {
  providers: ProviderRegistry
  /** Bound on one provider's share of a job's placements; see `ExecutorOptions.jobShareFactor`. */
  shareFactor: number
  random: () => number
  weightOf: (peerId: string) => number
}

/** How many placements of one job each provider has been drawn for. */
interface JobShares {
  placed: Map<string, number>
  placedTotal: number
}

/**
 * Chooses a provider for every replica slot. Slots wait in one queue until a
 * provider is drawn for them, then in that provider's backlog until it has a
 * free slot. The draw ignores who is free, so answering fast or claiming a
 * large capacity buys no larger share of the work.
 */
export class Placement {
  readonly #providers: ProviderRegistry
  readonly #shareFactor: number
  readonly #random: () => number
  readonly #weightOf: (peerId: string) => number
  readonly #shares = new Map<string, JobShares>()
  #queue: SlotRef[] = []
  #head = 0

  constructor(options: PlacementOptions) {
    this.#providers = options.providers
    this.#shareFactor = options.shareFactor
    this.#random = options.random
    this.#weightOf = options.weightOf
  }

  /**
   * Give `run` `count` more replica slots, queued for placement. A backup (for a straggler) goes to
   * the front of its provider's backlog, like a slot placed again, and is dropped if no provider can take it.
   */
  addSlots(run: ShardRun, count: number, kind: { backup?: boolean } = {}): void {
    for (let i = 0; i < count; i++) {
      const slot = run.slots++
      run.attempts.set(slot, 0)
      run.queued++
      this.#queue.push(kind.backup === true ? { run, slot, again: true, backup: true } : { run, slot })
    }
  }

  /** Queue a slot whose replica was lost, to be placed again. */
  requeue(run: ShardRun, slot: number): void {
    run.queued++
    this.#queue.push({ run, slot, again: true })
  }

  /** Slots that no provider has been drawn for. */
  queued(): readonly SlotRef[] {
    return this.#queue
  }

  /**
   * Draw a provider for every queued slot and put the slot in its backlog.
   * Returns the runs decided by `decide: 'all'` on the replicas they have,
   * because a slot no provider could ever take was dropped from them.
   */
  drawQueued(): ShardRun[] {
    const skipped: SlotRef[] = []
    // Counted once per draw, not per slot: it walks every provider, and nothing here changes it.
    const serving = this.#head < this.#queue.length ? this.#providers.serving : 0
    while (this.#head < this.#queue.length) {
      const ref = this.#queue[this.#head++] as SlotRef
      if (ref.run.decided) {
        ref.run.queued--
        continue
      }
      const provider = this.#pick(ref.run, serving)
      if (provider === undefined) {
        skipped.push(ref)
        continue
      }
      this.#reserve(ref, provider)
    }
    this.#queue = []
    this.#head = 0
    const stuck: ShardRun[] = []
    for (const ref of skipped) {
      // Under `all`, a slot no provider could ever take (every serving one has been used) is dropped
      // once the shard has a quorum of replicas: the rule then decides on those, rather than waiting.
      // A straggler's backup is only wanted: it never waits.
      if (ref.backup === true || this.#canDecideWithout(ref.run)) {
        ref.run.queued--
        stuck.push(ref.run)
      } else {
        this.#queue.push(ref)
      }
    }
    return stuck
  }

  /** Start what `provider`'s free slots allow from its backlog, with `place` for each slot. */
  startBacklog(provider: ProviderRecord, place: (ref: SlotRef) => void): void {
    while (provider.running < heldLimit(provider) && provider.backlogHead < provider.backlog.length) {
      const ref = provider.backlog[provider.backlogHead++] as SlotRef
      ref.run.reserved.delete(ref.slot)
      ref.run.queued--
      if (ref.run.decided) continue
      place(ref)
    }
    if (provider.backlogHead === provider.backlog.length) {
      provider.backlog = []
      provider.backlogHead = 0
    }
  }

  /** A provider stops serving: the slots drawn for it are drawn again among the others. */
  releaseBacklog(provider: ProviderRecord): void {
    for (let i = provider.backlogHead; i < provider.backlog.length; i++) {
      const ref = provider.backlog[i] as SlotRef
      if (ref.run.reserved.get(ref.slot) !== provider) continue
      ref.run.reserved.delete(ref.slot)
      this.#queue.push(ref)
    }
    provider.backlog = []
    provider.backlogHead = 0
  }

  /** Forget a finished job's placement shares. */
  forgetJob(jobId: string): void {
    this.#shares.delete(jobId)
  }

  /**
   * Why `run` waits for a slot no provider is running yet, or undefined if its decision does not
   * wait on one. The counts are held against what a decision needs (`quorum` distinct providers and
   * operators), not the redundancy: a shard decided on fewer replicas is not said to need more.
   */
  waitingReason(run: ShardRun): string | undefined {
    if (run.queued === 0 || run.decided || !needsQueued(run)) return undefined
    // Every queued slot has been drawn and waits in a provider's backlog: plain queueing.
    if (run.reserved.size >= run.queued) return WAITING_BUSY
    const online = [...this.#providers.all()].filter((p) => p.link !== undefined && !p.draining)
    const cause = waitCauseOf({
      online: online.length,
      operators: new Set(online.map((p) => p.operator ?? p.peerId)).size,
      needed: run.work.spec.quorum,
      freeSlots: this.#providers.freeCapacity,
    })
    return waitingReason(cause ?? { kind: 'fresh' })
  }

  /**
   * Providers that could still take a fresh replica of this shard: online (suspects included, as they
   * may be heard from again), unused, distinct operators.
   */
  freshFor(run: ShardRun): number {
    const usedProviders = new Set<string>(run.recheck?.excluded)
    const usedOperators = new Set<string>()
    for (const r of run.replicas) {
      if (r.reclaimed === true) continue
      usedProviders.add(r.provider)
      if (r.operator !== undefined) usedOperators.add(r.operator)
    }
    for (const p of run.reserved.values()) {
      usedProviders.add(p.peerId)
      if (p.operator !== undefined) usedOperators.add(p.operator)
    }
    const operators = new Set<string>()
    for (const p of this.#providers.all()) {
      if (!mayServe(p) || usedProviders.has(p.peerId)) continue
      const operator = p.operator ?? `peer:${p.peerId}`
      if (!usedOperators.has(operator)) operators.add(operator)
    }
    return operators.size
  }

  #canDecideWithout(run: ShardRun): boolean {
    if ((run.work.spec.decide ?? 'quorum') !== 'all' || run.decided || this.freshFor(run) > 0) return false
    let replicas = 0
    for (const r of run.replicas) if (r.state === 'running' || r.state === 'done') replicas++
    return replicas + run.reserved.size >= run.work.spec.quorum
  }

  #reserve(ref: SlotRef, provider: ProviderRecord): void {
    ref.run.reserved.set(ref.slot, provider)
    if (ref.again === true) provider.backlog.splice(provider.backlogHead, 0, ref)
    else provider.backlog.push(ref)
    const shares = this.#sharesOf(ref.run.work.jobId)
    shares.placed.set(provider.peerId, (shares.placed.get(provider.peerId) ?? 0) + 1)
    shares.placedTotal++
  }

  #sharesOf(jobId: string): JobShares {
    let shares = this.#shares.get(jobId)
    if (shares === undefined) {
      shares = { placed: new Map(), placedTotal: 0 }
      this.#shares.set(jobId, shares)
    }
    return shares
  }

  /**
   * A provider drawn uniformly at random (or by weight) among the eligible
   * ones in the best spreading tier, so neither answering fast nor claiming
   * capacity buys a larger share of the work. Eligible: serving, has held (or
   * been drawn for) no replica of this shard, run by an operator who holds no
   * live replica of it, and below its share of this job's placements. Whether
   * it is free now does not matter. Tiers: a region holding no live replica of
   * the shard first, then a zone holding none, then any eligible provider, so
   * a lost region never leaves a slot waiting while others can take it.
   */
  #pick(run: ShardRun, serving: number): ProviderRecord | undefined {
    const used = usedBy(run)
    const shares = this.#sharesOf(run.work.jobId)
    const share = Math.ceil((this.#shareFactor * (shares.placedTotal + 1)) / Math.max(1, serving)) + 1
    const tiers: [ProviderRecord[], ProviderRecord[], ProviderRecord[]] = [[], [], []]
    for (const p of this.#providers.all()) {
      if (!isServing(p) || p.capacity === 0) continue
      if (used.providers.has(p.peerId)) continue
      if (p.operator !== undefined && used.operators.has(p.operator)) continue
      if ((shares.placed.get(p.peerId) ?? 0) >= share) continue
      tiers[spreadTier(p, used)].push(p)
    }
    const eligible = tiers.find((tier) => tier.length > 0)
    if (eligible === undefined) return undefined
    return weightedDraw(eligible, (p) => this.#weightOf(p.peerId), this.#random())
  }
}

/**
 * Whether `run`'s decision waits on its queued slots. Under `decide: 'quorum'`, replicas queued
 * beyond what the leading result still needs (spares placed eagerly) do not hold it up; under
 * `all` every replica is needed, and one no provider can ever take is dropped at the draw.
 */
function needsQueued(run: ShardRun): boolean {
  if ((run.work.spec.decide ?? 'quorum') !== 'quorum') return true
  const agreeing = new Map<string, number>()
  let best = 0
  let running = 0
  for (const r of run.replicas) {
    if (r.state === 'running') running++
    if (r.state !== 'done' || r.digest === undefined) continue
    const n = (agreeing.get(r.digest) ?? 0) + 1
    agreeing.set(r.digest, n)
    best = Math.max(best, n)
  }
  return running + run.reserved.size < run.work.spec.quorum - best
}

/** Who holds a replica of `run` (or was drawn for one), and where the live ones are. */
interface ShardHolders {
  providers: Set<string>
  operators: Set<string>
  regions: Set<string>
  zones: Set<string>
}

function usedBy(run: ShardRun): ShardHolders {
  const used: ShardHolders = {
    providers: new Set<string>(run.recheck?.excluded),
    operators: new Set(),
    regions: new Set(),
    zones: new Set(),
  }
  const live = (provider: {
    operator?: string | undefined
    region?: string | undefined
    zone?: string | undefined
  }) => {
    if (provider.operator !== undefined) used.operators.add(provider.operator)
    used.regions.add(regionKey(provider))
    used.zones.add(zoneKey(provider))
  }
  for (const r of run.replicas) {
    // A provider that only fell silent with its replica may take the shard again once heard from.
    if (r.reclaimed !== true) used.providers.add(r.provider)
    if (r.state === 'running' || r.state === 'done') live(r)
  }
  for (const p of run.reserved.values()) {
    used.providers.add(p.peerId)
    live(p)
  }
  return used
}

// Providers that declare no region share one unnamed region: declaring nothing never ranks a provider
// as "elsewhere" for every shard.
function regionKey(p: { region?: string | undefined }): string {
  return p.region ?? ''
}

function zoneKey(p: { region?: string | undefined; zone?: string | undefined }): string {
  return `${p.region ?? ''}/${p.zone ?? ''}`
}

/** 0: its region holds no live replica of the shard; 1: its zone holds none; 2: neither. */
function spreadTier(p: ProviderRecord, used: ShardHolders): 0 | 1 | 2 {
  if (!used.regions.has(regionKey(p))) return 0
  return used.zones.has(zoneKey(p)) ? 2 : 1
}

/** One of `items`, each as likely as its weight (non-finite or non-positive weights count as 1). */
export function weightedDraw<T>(items: readonly T[], weightOf: (item: T) => number, random: number): T {
  const weights = items.map((item) => {
    const w = weightOf(item)
    return Number.isFinite(w) && w > 0 ? w : 1
  })
  let point = random * weights.reduce((sum, w) => sum + w, 0)
  for (const [i, item] of items.entries()) {
    point -= weights[i] as number
    if (point < 0) return item
  }
  return items[items.length - 1] as T
}
