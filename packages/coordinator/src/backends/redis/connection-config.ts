import { InvalidOptionError } from '@quorate/protocol'
import type { RedisOptions } from 'ioredis'

/**
 * Where the coordinator's Redis is, read from `--redis`:
 *
 * - `redis://[user:password@]host:port[/db]` (or `rediss://`): one server.
 * - `redis+sentinel://[user:password@]host:port,host:port,…/masterName[?replicas=N&replicaTimeoutMs=MS]`:
 *   the primary that the listed Sentinels name `masterName`. Every connection (commands, pub/sub,
 *   each BullMQ queue and worker) is built from these same options, so after a failover all of them
 *   follow the Sentinels to the new primary.
 *
 * `replicas` (default 1 with Sentinel, 0 otherwise) is how many replicas must have a decision before
 * it is announced, waited for with WAIT for at most `replicaTimeoutMs` (default 1000); see `ReplicaSync`.
 */
export interface RedisTarget {
  /** The URL with any password hidden, for logs. */
  readonly display: string
  /** Options every connection starts from. */
  readonly options: RedisOptions
  /** Replicas a decision must reach before it is announced; 0: do not wait. */
  readonly replicas: number
  readonly replicaTimeoutMs: number
}

const SENTINEL_SCHEME = 'redis+sentinel:'
const MAX_SENTINELS = 16

/** Read a `--redis` value; anything unexpected is an error naming the part that is wrong. */
export function parseRedisUrl(raw: string): RedisTarget {
  const fail = (reason: string): never => {
    throw new InvalidOptionError('redis', reason, redact(raw))
  }
  if (typeof raw !== 'string' || raw === '') fail('must be a redis://, rediss:// or redis+sentinel:// URL')
  const scheme = /^[a-z+]+:/.exec(raw)?.[0]
  if (scheme === 'redis:' || scheme === 'rediss:') return plainTarget(raw, fail)
  if (scheme !== SENTINEL_SCHEME) {
    fail('must be a redis://, rediss:// or redis+sentinel://host:port,host:port/masterName URL')
  }
  return sentinelTarget(raw, fail)
}

function plainTarget(raw: string, fail: (reason: string) => never): RedisTarget {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail('is not a valid URL')
  }
  if (url.hostname === '') fail('names no host (expected redis://host:port)')
  // ioredis would turn query parameters into connection options: accept none, so a typo is not ignored.
  if (url.search !== '') fail(`takes no query parameters (got "${url.search}"); replicas= is for redis+sentinel://`)
  const options: RedisOptions = {}
  const db = dbOf(url.pathname, fail)
  if (db !== undefined) options.db = db
  return { display: redact(raw), options: { ...options, ...urlAuth(url) }, replicas: 0, replicaTimeoutMs: 1000 }
}

function sentinelTarget(raw: string, fail: (reason: string) => never): RedisTarget {
  const rest = raw.slice(`${SENTINEL_SCHEME}//`.length)
  if (!raw.startsWith(`${SENTINEL_SCHEME}//`)) fail('must start with redis+sentinel://')
  const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? rest.length : rest.indexOf('/'))
  const auth = at === -1 ? '' : rest.slice(0, at)
  const afterAuth = rest.slice(at + 1)
  const slash = afterAuth.indexOf('/')
  if (slash === -1) fail('names no master (expected redis+sentinel://host:port,host:port/masterName)')
  const hosts = afterAuth.slice(0, slash)
  const [path = '', query = ''] = afterAuth.slice(slash + 1).split('?', 2)
  const [masterName = '', dbPart, ...extra] = path.split('/')
  if (extra.length > 0) fail(`has too many path parts (expected /masterName or /masterName/db, got "/${path}")`)
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(masterName)) {
    fail(`master name must be 1 to 64 letters, digits, "_", "." or "-" (got "${masterName}")`)
  }
  const sentinels = hosts.split(',').map((hostPort) => hostPortOf(hostPort, fail))
  if (sentinels.length > MAX_SENTINELS) fail(`lists ${sentinels.length} Sentinels; at most ${MAX_SENTINELS}`)
  const options: RedisOptions = { sentinels, name: masterName }
  const db = dbOf(dbPart === undefined ? '' : `/${dbPart}`, fail)
  if (db !== undefined) options.db = db
  if (auth !== '') {
    const colon = auth.indexOf(':')
    const username = decodeURIComponent(colon === -1 ? auth : auth.slice(0, colon))
    const password = colon === -1 ? '' : decodeURIComponent(auth.slice(colon + 1))
    if (username !== '') options.username = username
    if (password !== '') options.password = password
  }
  const params = new URLSearchParams(query)
  for (const name of params.keys()) {
    if (name !== 'replicas' && name !== 'replicaTimeoutMs') {
      fail(`has an unknown parameter "${name}" (known: replicas, replicaTimeoutMs)`)
    }
  }
  const replicas = intParam(params.get('replicas'), 'replicas', 1, 0, 16, fail)
  const replicaTimeoutMs = intParam(params.get('replicaTimeoutMs'), 'replicaTimeoutMs', 1000, 10, 60_000, fail)
  return { display: redact(raw), options, replicas, replicaTimeoutMs }
}

function hostPortOf(hostPort: string, fail: (reason: string) => never): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hostPort)
  if (match === null) fail(`Sentinel "${hostPort}" must be host:port`)
  const [, host = '', portText = ''] = match as RegExpExecArray
  const port = Number(portText)
  if (port < 1 || port > 65_535) fail(`Sentinel "${hostPort}" has port ${port}; ports go from 1 to 65535`)
  return { host: host.replace(/^\[|\]$/g, ''), port }
}

function dbOf(pathname: string, fail: (reason: string) => never): number | undefined {
  if (pathname === '' || pathname === '/') return undefined
  const db = Number(pathname.slice(1))
  if (!/^\/\d{1,2}$/.test(pathname) || db > 15) fail(`database must be a number from 0 to 15 (got "${pathname}")`)
  return db
}

function intParam(
  raw: string | null,
  name: string,
  fallback: number,
  min: number,
  max: number,
  fail: (reason: string) => never,
): number {
  if (raw === null) return fallback
  const value = Number(raw)
  if (raw === '' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return value
}

function urlAuth(url: URL): RedisOptions {
  const auth: RedisOptions = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) }
  if (url.username !== '') auth.username = decodeURIComponent(url.username)
  if (url.password !== '') auth.password = decodeURIComponent(url.password)
  if (url.protocol === 'rediss:') auth.tls = {}
  return auth
}

/** The URL with its password replaced, so it can be logged and put in error messages. */
function redact(raw: string): string {
  return String(raw).replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}
