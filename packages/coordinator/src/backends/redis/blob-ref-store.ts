import type { BlobHome, BlobRefStore } from '../../backend.ts'
import type { RedisContext } from './context.ts'

/**
 * Which jobs refer to which blobs, in Redis: `blobrefs:sha:<sha>` is the set of jobs referring to a
 * blob, `blobrefs:job:<id>` the set of blobs a job refers to, `blobrefs:home:<sha>` where an output
 * is held.
 * Keys share the namespace's hash tag, so each transaction is atomic on a cluster too.
 */
export class RedisBlobRefStore implements BlobRefStore {
  readonly #ctx: RedisContext

  constructor(ctx: RedisContext) {
    this.#ctx = ctx
  }

  async referBlobs(jobId: string, sha256s: string[], home?: BlobHome): Promise<void> {
    if (sha256s.length === 0) return
    const { client, key } = this.#ctx
    const tx = client.multi().sadd(key('blobrefs', 'job', jobId), ...sha256s)
    for (const sha of sha256s) {
      tx.sadd(key('blobrefs', 'sha', sha), jobId)
      if (home !== undefined) tx.set(key('blobrefs', 'home', sha), JSON.stringify(home))
    }
    await tx.exec()
  }

  async releaseBlobs(jobId: string): Promise<string[]> {
    const { client, key } = this.#ctx
    const shas = await client.smembers(key('blobrefs', 'job', jobId))
    const unreferenced: string[] = []
    for (const sha of shas) {
      const replies = await client
        .multi()
        .srem(key('blobrefs', 'sha', sha), jobId)
        .scard(key('blobrefs', 'sha', sha))
        .exec()
      if (replies?.[1]?.[1] !== 0) continue
      // A job referring to it since is safe: the collector asks again before deleting anything.
      await client.del(key('blobrefs', 'home', sha))
      unreferenced.push(sha)
    }
    await client.del(key('blobrefs', 'job', jobId))
    return unreferenced
  }

  async referencedBlobs(sha256s: string[]): Promise<Set<string>> {
    if (sha256s.length === 0) return new Set()
    const { client, key } = this.#ctx
    const tx = client.multi()
    for (const sha of sha256s) tx.exists(key('blobrefs', 'sha', sha))
    const replies = (await tx.exec()) ?? []
    return new Set(sha256s.filter((_sha, i) => replies[i]?.[1] === 1))
  }

  async blobHome(sha256: string): Promise<BlobHome | undefined> {
    const raw = await this.#ctx.client.get(this.#ctx.key('blobrefs', 'home', sha256))
    return raw === null ? undefined : (JSON.parse(raw) as BlobHome)
  }
}
