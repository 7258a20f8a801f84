import { InvalidOptionError } from '@quorate/protocol'

export interface SplitItemsParameters {
  /** Items per shard; the last shard may hold fewer. @defaultValue 1 */
  itemsPerShard?: number
}

/**
 * Split a list of items into shards, each the JSON text of an array of up to
 * `itemsPerShard` items, in order. The module reads a JSON array on stdin.
 *
 * @example
 * ```ts
 * import { splitItems } from '@quorate/sdk'
 * splitItems([{ url: 'a' }, { url: 'b' }, { url: 'c' }], { itemsPerShard: 2 })
 * // ['[{"url":"a"},{"url":"b"}]', '[{"url":"c"}]']
 * ```
 */
export function splitItems(items: readonly unknown[], parameters: SplitItemsParameters = {}): string[] {
  const itemsPerShard = parameters.itemsPerShard ?? 1
  if (!Number.isInteger(itemsPerShard) || itemsPerShard < 1) {
    throw new InvalidOptionError('itemsPerShard', 'must be an integer ≥ 1', itemsPerShard)
  }
  const shards: string[] = []
  for (let start = 0; start < items.length; start += itemsPerShard) {
    shards.push(JSON.stringify(items.slice(start, start + itemsPerShard)))
  }
  return shards
}
