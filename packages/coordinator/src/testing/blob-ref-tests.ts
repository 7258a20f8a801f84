import { describe, expect, it } from 'vitest'
import type { BlobRefStore } from '../backend.ts'
import type { SuiteContext } from './suite-context.ts'

const TIMEOUT = 30_000
const sha = (c: string) => c.repeat(64)

/** Which jobs refer to which blobs: shared by every coordinator on the storage, released per job. */
export function blobRefTests(ctx: SuiteContext): void {
  describe('blob references', () => {
    it('releases a job’s blobs; only those no other job refers to come back', () => releases(ctx), TIMEOUT)
  })
}

async function releases(ctx: SuiteContext): Promise<void> {
  const first = await ctx.open()
  // One process owns an embedded data dir; Redis coordinators share the namespace.
  const second = first.kind === 'embedded' ? first : await ctx.open()
  const a = first.blobRefs as BlobRefStore
  const b = second.blobRefs as BlobRefStore
  expect(a).toBeDefined()
  const home = { peerId: '12D3KooWHome', addrs: ['/ip4/127.0.0.1/tcp/1'], size: 7 }
  await a.referBlobs('job-1', [sha('a'), sha('b')])
  await a.referBlobs('job-1', [sha('c')], home)
  // Another coordinator on the same storage: job-2 shares blob b.
  await b.referBlobs('job-2', [sha('b')])
  await b.referBlobs('job-2', [sha('b')])
  expect(await b.referencedBlobs([sha('a'), sha('b'), sha('c'), sha('d')])).toEqual(
    new Set([sha('a'), sha('b'), sha('c')]),
  )
  expect(await b.blobHome(sha('c'))).toEqual(home)
  expect(await b.blobHome(sha('a'))).toBeUndefined()

  expect((await b.releaseBlobs('job-1')).sort()).toEqual([sha('a'), sha('c')])
  expect(await a.referencedBlobs([sha('a'), sha('b'), sha('c')])).toEqual(new Set([sha('b')]))
  expect(await a.blobHome(sha('c'))).toBeUndefined()
  // Released twice, or a job that referred to nothing: nothing to give back.
  expect(await a.releaseBlobs('job-1')).toEqual([])
  expect(await a.releaseBlobs('job-3')).toEqual([])
  expect(await a.releaseBlobs('job-2')).toEqual([sha('b')])
  expect(await a.referencedBlobs([sha('b')])).toEqual(new Set())
}
