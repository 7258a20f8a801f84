import { BLOB_BOUNDS, type BlobSource, type InputBlob, type StoredBlobRef } from '@quorate/protocol'

/** Blobs whose holders are remembered; the least recently assigned is forgotten first. */
const MAX_BLOBS = 4096

/**
 * Where an agent can fetch a blob: the coordinator holding it first (it also serves the manifest),
 * then agents this coordinator has given it to, the most recent first. An agent given a blob fetches
 * and caches it, so the next agent can take chunks from it instead of from the coordinator; an agent
 * that no longer holds it (or serves bad chunks) only costs the fetcher a try.
 */
export class BlobSources {
  readonly #self: () => BlobSource
  readonly #holders = new Map<string, Map<string, string[]>>()
  /** Where each connected agent given work that may keep its output as a blob serves blobs. */
  readonly #peers = new Map<string, string[]>()
  /** Outputs over this many bytes are kept by agents as blobs (`AssignMessage.outputInlineMax`); undefined: all inline. */
  readonly outputInlineMax: number | undefined

  constructor(self: () => BlobSource, options: { outputInlineMax?: number } = {}) {
    this.#self = self
    this.outputInlineMax = options.outputInlineMax
  }

  /** The sources to name in an assignment of blob `ref` to `peerId`, who then counts as a holder. */
  forAssignment(ref: StoredBlobRef, peerId: string, peerAddrs: readonly string[] | undefined): InputBlob {
    const self = this.#self()
    // A home that is this coordinator is named by its current addresses (they change across restarts).
    const home = ref.home === undefined || ref.home.peerId === self.peerId ? self : ref.home
    const sources: BlobSource[] = [home]
    const holders = this.#holders.get(ref.sha256)
    if (holders !== undefined) {
      for (const [holder, addrs] of [...holders].reverse()) {
        if (sources.length >= BLOB_BOUNDS.maxSources) break
        if (holder !== peerId && holder !== home.peerId) sources.push({ peerId: holder, addrs })
      }
    }
    if (peerAddrs !== undefined && peerAddrs.length > 0) this.#remember(ref.sha256, peerId, [...peerAddrs])
    return { sha256: ref.sha256, size: ref.size, sources }
  }

  /** Forget an agent that left: its cache left with it. */
  forgetPeer(peerId: string): void {
    for (const holders of this.#holders.values()) holders.delete(peerId)
    this.#peers.delete(peerId)
  }

  /** `peerId` was asked to keep a large output as a blob: where to fetch it from later. */
  outputHolder(peerId: string, addrs: readonly string[]): void {
    this.#peers.set(peerId, addrs.slice(0, BLOB_BOUNDS.maxAddrs))
  }

  /** Sources for an accepted output blob: those of `peerIds` (its majority) still connected here. */
  outputSources(peerIds: readonly string[]): BlobSource[] {
    const sources: BlobSource[] = []
    for (const peerId of peerIds) {
      const addrs = this.#peers.get(peerId)
      if (addrs !== undefined) sources.push({ peerId, addrs })
    }
    return sources
  }

  #remember(sha256: string, peerId: string, addrs: string[]): void {
    let holders = this.#holders.get(sha256)
    if (holders === undefined) holders = new Map()
    else this.#holders.delete(sha256)
    this.#holders.set(sha256, holders)
    holders.delete(peerId)
    holders.set(peerId, addrs.slice(0, BLOB_BOUNDS.maxAddrs))
    if (holders.size > BLOB_BOUNDS.maxSources) holders.delete(holders.keys().next().value as string)
    if (this.#holders.size > MAX_BLOBS) this.#holders.delete(this.#holders.keys().next().value as string)
  }
}
