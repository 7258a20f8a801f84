import type { ShardState } from '@quorate/protocol'

/** Which shards a page holds: after `cursor` (a page's `nextCursor`; -1 or absent from the first), at most `limit` (≤ 1000), of any of `state`. */
export interface ShardPageParameters {
  cursor?: number
  limit?: number
  state?: ShardState | readonly ShardState[]
}

/** The query string of `fields`, lists comma-separated, undefined ones left out. */
export function queryString(fields: object): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) params.set(k, Array.isArray(v) ? v.join(',') : String(v))
  }
  return params.toString()
}
