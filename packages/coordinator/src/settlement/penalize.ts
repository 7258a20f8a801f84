import { penalize, type SignedShardResult } from '@quorate/chain'
import { chainCall, type SettlementContext } from './options.ts'

/** Send the penalties of a settled job. Each is tried once; a refusal is recorded with its reason. */
export async function penalizeJob(ctx: SettlementContext, jobId: string, escrowJobId: string): Promise<void> {
  const { client, store, log } = ctx
  const parse = (text: string): SignedShardResult => {
    const r = JSON.parse(text) as { shard: number; digest: string; nonce: string; signature: string }
    return { jobId: escrowJobId, shard: r.shard, digest: r.digest, nonce: BigInt(r.nonce), signature: r.signature }
  }
  for (const row of await store.pendingOffences(jobId)) {
    try {
      const done = await chainCall(ctx, 'penalize', () =>
        penalize(client, {
          jobId: escrowJobId,
          accused: parse(row.accused),
          quorum: (JSON.parse(row.quorum) as unknown[]).map((q) => parse(JSON.stringify(q))),
        }),
      )
      await store.markPenalized(jobId, row.peer_id, done.hash, done.slashed.toString())
      log.warn(
        { jobId, peerId: row.peer_id, provider: done.provider, slashed: done.slashed.toString(), hash: done.hash },
        'provider penalized on chain',
      )
    } catch (err) {
      await store.markPenaltyFailed(jobId, row.peer_id, (err as Error).message)
      log.error({ jobId, peerId: row.peer_id, err }, 'penalty refused on chain')
    }
  }
}
