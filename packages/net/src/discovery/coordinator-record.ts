import { multiaddr } from '@multiformats/multiaddr'
import { MalformedMessageError } from '@quorate/protocol'

/** What one peer tells another about a coordinator it knows. Every field is a claim until checked. */
export interface CoordinatorRecord {
  /** The coordinator's PeerId. */
  peerId: string
  /** Where agents dial it, each ending in `/p2p/<peerId>`. */
  multiaddrs: string[]
  /** Its HTTP API, for submitters. */
  httpUrl?: string
  /** When the teller last heard from it (ms since the epoch). */
  lastSeen: number
}

/** Bounds on what a peer may tell: a list longer or bigger than these is refused whole. */
export const RECORD_LIMITS = {
  /** Coordinators in one answer. */
  maxRecords: 32,
  /** Multiaddrs per coordinator. */
  maxMultiaddrs: 4,
  /** Characters of one multiaddr or HTTP URL. */
  maxAddrChars: 256,
  /** A `lastSeen` this far ahead of our clock is a lie, not a skew. */
  maxClockSkewMs: 60_000,
} as const

/** base58btc PeerIds (`12D3KooW…`, `Qm…`): letters and digits, no look-alikes. */
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{40,100}$/

/** The records of an answer that pass every check, and what was wrong with the others. */
export interface ReadRecords {
  records: CoordinatorRecord[]
  problems: string[]
}

/**
 * Checks a list of coordinator records from a peer. The list's shape (an array of at most
 * `maxRecords`) is checked whole and throws; each entry is checked on its own and a bad one is
 * dropped with its problem named, so one bad entry does not hide the good ones.
 */
export function readCoordinatorRecords(value: unknown, now: number): ReadRecords {
  if (!Array.isArray(value)) throw new MalformedMessageError('coordinators must be an array')
  if (value.length > RECORD_LIMITS.maxRecords) {
    throw new MalformedMessageError(`coordinators has ${value.length} entries, more than ${RECORD_LIMITS.maxRecords}`)
  }
  const records: CoordinatorRecord[] = []
  const problems: string[] = []
  value.forEach((entry, i) => {
    try {
      records.push(readCoordinatorRecord(entry, now))
    } catch (err) {
      problems.push(`coordinators[${i}]: ${(err as Error).message}`)
    }
  })
  return { records, problems }
}

/** Checks one record field by field; throws a `MALFORMED_MESSAGE` error naming the first bad field. */
export function readCoordinatorRecord(value: unknown, now: number): CoordinatorRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedMessageError('a coordinator record must be an object')
  }
  const { peerId, multiaddrs, httpUrl, lastSeen } = value as Record<string, unknown>
  if (typeof peerId !== 'string' || !PEER_ID.test(peerId)) throw new MalformedMessageError('peerId is not a PeerId')
  if (!Array.isArray(multiaddrs) || multiaddrs.length < 1 || multiaddrs.length > RECORD_LIMITS.maxMultiaddrs) {
    throw new MalformedMessageError(`multiaddrs must hold 1 to ${RECORD_LIMITS.maxMultiaddrs} multiaddrs`)
  }
  const addrs = multiaddrs.map((addr, i) => checkedMultiaddr(addr, peerId, `multiaddrs[${i}]`))
  if (typeof lastSeen !== 'number' || !Number.isSafeInteger(lastSeen) || lastSeen < 0) {
    throw new MalformedMessageError('lastSeen must be a time in milliseconds')
  }
  if (lastSeen > now + RECORD_LIMITS.maxClockSkewMs) throw new MalformedMessageError('lastSeen is in the future')
  const record: CoordinatorRecord = { peerId, multiaddrs: addrs, lastSeen }
  if (httpUrl !== undefined) record.httpUrl = checkedHttpUrl(httpUrl)
  return record
}

function checkedMultiaddr(addr: unknown, peerId: string, field: string): string {
  if (typeof addr !== 'string' || addr.length > RECORD_LIMITS.maxAddrChars) {
    throw new MalformedMessageError(`${field} must be a string of at most ${RECORD_LIMITS.maxAddrChars} characters`)
  }
  if (!addr.endsWith(`/p2p/${peerId}`)) throw new MalformedMessageError(`${field} must end in /p2p/<peerId>`)
  try {
    multiaddr(addr)
  } catch {
    throw new MalformedMessageError(`${field} is not a multiaddr`)
  }
  return addr
}

function checkedHttpUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > RECORD_LIMITS.maxAddrChars) {
    throw new MalformedMessageError(`httpUrl must be a string of at most ${RECORD_LIMITS.maxAddrChars} characters`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new MalformedMessageError('httpUrl is not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MalformedMessageError('httpUrl must be http(s)')
  if (url.username !== '' || url.password !== '') throw new MalformedMessageError('httpUrl must not carry credentials')
  return value
}
