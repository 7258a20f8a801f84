import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

/** The primes example module, as built by the repo's build. */
export async function primesWasm(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')))
}

/** Primes in [from, to), computed here, to check what the network answers. */
export function countPrimes(from: number, to: number): number {
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true
    for (let d = 2; d * d <= n && prime; d++) prime = n % d !== 0
    if (prime) count++
  }
  return count
}

/** The same, for a primes shard input "FROM TO". */
export function primesIn(input: string): number {
  const [from, to] = input.split(' ').map(Number) as [number, number]
  return countPrimes(from, to)
}
