/**
 * Short form of a libp2p peer id. Ed25519 ids all start `12D3KooW`, so the
 * distinguishing part is the tail.
 */
export function shortPeer(peerId: string): string {
  return peerId.length <= 10 ? peerId : `…${peerId.slice(-6)}`
}

/** Short form of a job id or digest: the first `n` characters. */
export function prefix(value: string, n = 8): string {
  return value.length <= n ? value : value.slice(0, n)
}

/** A stable hue per provider, so the same provider is easy to follow across the grid. */
export function peerHue(peerId: string): number {
  let h = 2166136261
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 16777619)
  return (h >>> 0) % 360
}

/** "12s", "4m", "3h", "2d": how long ago `at` was, as of `now`. */
export function age(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h`
  return `${Math.floor(h / 24)}d`
}

/** A duration in ms: "850 ms", "3.2 s", "4m 05s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
}

/** Fuel (instructions metered by the runtime): 1234 → "1.23k", 5_600_000 → "5.60M". */
export function compact(n: number): string {
  const units = ['', 'k', 'M', 'G', 'T']
  let v = n
  let u = 0
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  if (u === 0) return String(Math.round(v))
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[u]}`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A local time of day, with the date when it is not today. */
export function clock(at: number, now: number): string {
  const d = new Date(at)
  const sameDay = new Date(now).toDateString() === d.toDateString()
  const time = d.toLocaleTimeString(undefined, { hour12: false })
  return sameDay ? time : `${d.toLocaleDateString()} ${time}`
}

/** Job states read better with spaces: `partially_failed` → "partially failed". */
export function stateLabel(state: string): string {
  return state.replace(/_/g, ' ')
}

/** Thousands separators, always in the same style regardless of locale. */
export function count(n: number): string {
  return n.toLocaleString('en-US')
}

/**
 * The outcome of an accepted shard when the providers agreed the module failed
 * (`exit`, `trap`, `out_of_fuel`, ...), as a label; undefined for a success or
 * an undecided shard. Such a shard is accepted but is no success.
 */
export function failingOutcome(shard: { state: string; outcome?: string | undefined }): string | undefined {
  if (shard.state !== 'accepted' || shard.outcome === undefined || shard.outcome === 'ok') return undefined
  return shard.outcome.replace(/_/g, ' ')
}
