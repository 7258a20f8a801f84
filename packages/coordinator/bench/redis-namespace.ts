import { Redis } from 'ioredis'

/** Delete every key of a benchmark's Redis namespace (`{namespace}…`), so runs leave nothing behind. */
export async function dropNamespace(url: string, namespace: string): Promise<void> {
  const redis = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${namespace}}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
