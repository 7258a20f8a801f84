/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same
 * sequence on every run, so generated data and random placements repeat.
 * Returns numbers in [0, 1), like Math.random.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A seeded integer in [0, n). */
export function seededInt(seed: number): (n: number) => number {
  const random = seededRandom(seed)
  return (n) => Math.floor(random() * n)
}
