// The bounds on a coordinator's published endpoints, the same as the Registry enforces. Readers
// check them again: a Registry entry is whatever its coordinator wrote, so it is untrusted input.

/** Most multiaddrs a coordinator may publish (Registry.MAX_COORDINATOR_MULTIADDRS). */
export const MAX_COORDINATOR_MULTIADDRS = 8
/** Longest multiaddr or HTTP URL (Registry.MAX_ENDPOINT_LENGTH). */
export const MAX_ENDPOINT_LENGTH = 256

const PRINTABLE = /^[\x21-\x7e]+$/

/** Why a multiaddr cannot be published or dialled, or undefined when it is fine. */
export function multiaddrProblem(value: unknown, peerId?: string): string | undefined {
  if (typeof value !== 'string') return 'is not a string'
  if (value.length === 0 || value.length > MAX_ENDPOINT_LENGTH) return `must be 1 to ${MAX_ENDPOINT_LENGTH} characters`
  if (!PRINTABLE.test(value)) return 'must be printable ASCII without spaces'
  if (!value.startsWith('/')) return 'must start with "/"'
  if (peerId !== undefined && !value.endsWith(`/p2p/${peerId}`)) return `must end in /p2p/${peerId}`
  return undefined
}

/** Why an HTTP URL cannot be published or used, or undefined when it is fine (empty means none). */
export function httpUrlProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'is not a string'
  if (value === '') return undefined
  if (value.length > MAX_ENDPOINT_LENGTH) return `must be at most ${MAX_ENDPOINT_LENGTH} characters`
  if (!PRINTABLE.test(value)) return 'must be printable ASCII without spaces'
  if (!value.startsWith('http://') && !value.startsWith('https://')) return 'must start with http:// or https://'
  if (!URL.canParse(value)) return 'is not a URL'
  return undefined
}
