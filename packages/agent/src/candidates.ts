/**
 * The coordinators an agent knows now (the explicit ones, then the discovered ones) and the
 * turn-taking among them, so free slots try each in order rather than all the first one.
 */
export class CandidateList {
  #addrs: string[]
  #cursor = 0

  constructor(addrs: readonly string[]) {
    this.#addrs = [...addrs]
  }

  get size(): number {
    return this.#addrs.length
  }

  /** Takes a new list (duplicates dropped); the turn carries on where it was. */
  replace(addrs: readonly string[]): void {
    this.#addrs = [...new Set(addrs)]
  }

  /** The next address, in turn, whose coordinator is not one of `held` (multiaddrs). */
  next(held: readonly string[]): string | undefined {
    const heldPeers = new Set(held.map(peerOf))
    for (let i = 0; i < this.#addrs.length; i++) {
      const addr = this.#addrs[(this.#cursor + i) % this.#addrs.length] as string
      if (heldPeers.has(peerOf(addr))) continue
      this.#cursor = (this.#cursor + i + 1) % this.#addrs.length
      return addr
    }
    return undefined
  }
}

/** A coordinator's identity in its multiaddr, so two addresses of one coordinator share a slot. */
function peerOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('/p2p/') + 5)
}
