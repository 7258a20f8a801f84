import { describe, expect, it } from 'vitest'
import { parseRedisUrl } from '../../src/backends/redis/connection-config.ts'

const messageOf = (url: string): string => {
  try {
    parseRedisUrl(url)
  } catch (err) {
    return (err as Error).message
  }
  return 'accepted'
}

describe('parseRedisUrl', () => {
  it('reads one server, with its database and credentials', () => {
    const target = parseRedisUrl('redis://user:s3cret@127.0.0.1:6380/2')
    expect(target.options).toEqual({ host: '127.0.0.1', port: 6380, db: 2, username: 'user', password: 's3cret' })
    expect(target.replicas).toBe(0)
    expect(target.display).toBe('redis://user:***@127.0.0.1:6380/2')
  })

  it('reads Sentinels, the master name, and how many replicas must confirm a decision', () => {
    const target = parseRedisUrl('redis+sentinel://:pw@127.0.0.1:26379,[::1]:26380,sentinel-3:26381/mymaster')
    expect(target.options).toEqual({
      sentinels: [
        { host: '127.0.0.1', port: 26379 },
        { host: '::1', port: 26380 },
        { host: 'sentinel-3', port: 26381 },
      ],
      name: 'mymaster',
      password: 'pw',
    })
    expect([target.replicas, target.replicaTimeoutMs]).toEqual([1, 1000])
    const tuned = parseRedisUrl('redis+sentinel://h:1/m/3?replicas=2&replicaTimeoutMs=250')
    expect([tuned.options.db, tuned.replicas, tuned.replicaTimeoutMs]).toEqual([3, 2, 250])
  })

  it('names what is wrong, and never shows the password', () => {
    expect(messageOf('http://127.0.0.1:6379')).toMatchInlineSnapshot(
      `"redis must be a redis://, rediss:// or redis+sentinel://host:port,host:port/masterName URL (got "http://127.0.0.1:6379")"`,
    )
    expect(messageOf('redis+sentinel://127.0.0.1:26379')).toMatchInlineSnapshot(
      `"redis names no master (expected redis+sentinel://host:port,host:port/masterName) (got "redis+sentinel://127.0.0.1:26379")"`,
    )
    expect(messageOf('redis+sentinel://127.0.0.1,127.0.0.1:26380/mymaster')).toMatchInlineSnapshot(
      `"redis Sentinel "127.0.0.1" must be host:port (got "redis+sentinel://127.0.0.1,127.0.0.1:26380/mymaster")"`,
    )
    expect(messageOf('redis+sentinel://h:70000/m')).toMatch(/port 70000; ports go from 1 to 65535/)
    expect(messageOf('redis+sentinel://h:1/my master')).toMatch(/master name must be 1 to 64 letters/)
    expect(messageOf('redis+sentinel://h:1/m?replica=1')).toMatch(/unknown parameter "replica"/)
    expect(messageOf('redis+sentinel://h:1/m?replicas=-1')).toMatch(/replicas must be an integer from 0 to 16/)
    expect(messageOf('redis://127.0.0.1:6379/99')).toMatch(/database must be a number from 0 to 15/)
    expect(messageOf('redis://127.0.0.1:6379?family=6')).toMatch(/takes no query parameters/)
    expect(messageOf('redis+sentinel://u:hunter2@h:1')).not.toContain('hunter2')
  })
})
