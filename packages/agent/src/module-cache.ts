/** The modules a coordinator sent, by sha256, least recently received dropped first. */
export class ModuleCache {
  readonly #modules = new Map<string, Uint8Array>()
  readonly #limit: number

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Keep a copy: the frame the bytes came in is reused by the decoder. */
  add(sha256: string, bytes: Uint8Array): void {
    this.#modules.delete(sha256)
    this.#modules.set(sha256, bytes.slice())
    while (this.#modules.size > this.#limit) this.#modules.delete(this.#modules.keys().next().value as string)
  }

  get(sha256: string): Uint8Array | undefined {
    return this.#modules.get(sha256)
  }
}
