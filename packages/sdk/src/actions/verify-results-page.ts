import type { JobResultsPage, JobViewPage } from '@quorate/protocol'
import { failureOf, type ShardResult, verifyJobHeader, verifyShardResult } from './verify-results.ts'

export interface VerifyResultsPageParameters {
  /** The job view with a page of its shards (`GET /v1/jobs/:id?view=page&cursor=&limit=`). */
  job: JobViewPage
  /** The results page read with the same cursor and limit (`GET /v1/jobs/:id/results?cursor=&limit=`). */
  results: JobResultsPage
  /** The cursor both pages were read with: -1 for the first page, else the `nextCursor` before. */
  cursor: number
  /** The quorum the submitter asked for; see {@link verifyResults}. */
  expectedQuorum?: number
}

export type VerifyResultsPageReturnType = ShardResult[]

/**
 * {@link verifyResults} for one page of a big job: the same checks of each shard against its
 * digest, the job's quorum and the view's page, and the page itself must be whole: it holds the
 * shards right after `cursor`, in order, none missing, the view's page holds the same ones, and the
 * last page ends at the job's last shard. Pages checked one after the other, each from the
 * `nextCursor` of the one before, so add up to every shard of the job, once.
 */
export function verifyResultsPage(parameters: VerifyResultsPageParameters): VerifyResultsPageReturnType {
  const { job, results, cursor, expectedQuorum } = parameters
  const fail = failureOf(job.id)
  verifyJobHeader(job, results.id, expectedQuorum, fail)
  const end = results.nextCursor ?? job.shards.total - 1
  if (results.nextCursor !== job.nextCursor || end >= job.shards.total || end < cursor) {
    throw fail(
      undefined,
      'shards',
      `the page after ${cursor} ends at ${results.nextCursor} in the results and ${job.nextCursor} in the view, of ${job.shards.total} shards`,
    )
  }
  if (results.shards.length !== end - cursor || job.shardList.length !== end - cursor) {
    throw fail(
      undefined,
      'shards',
      `the page of shards ${cursor + 1} to ${end} holds ${results.shards.length} results and ${job.shardList.length} shards of the view`,
    )
  }
  return results.shards.map((shard, position) => {
    const expected = cursor + 1 + position
    if (shard.index !== expected)
      throw fail(expected, 'shards', `result at position ${expected} is for shard ${shard.index}`)
    const viewShard = job.shardList[position]
    if (viewShard?.index !== expected) {
      throw fail(expected, 'view', `the view's shard at position ${expected} is shard ${viewShard?.index}`)
    }
    return verifyShardResult(job, shard, viewShard, fail)
  })
}
