import { setFlagsFromString } from 'node:v8'
import { InvalidOptionError } from '@quorate/protocol'

/**
 * How far a coordinator process lets V8's old generation grow past its live size between major
 * collections, in percent. With V8's own factor, which grows with the allocation rate, RSS followed
 * throughput: at ~7,000 shards/s the heap reached 150–190 MiB between collections over 40–48 MiB
 * live, and RSS kept that high-water mark (`npm run bench:soak`).
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50
/** 0 leaves V8's own heuristic; below 10 the process would spend its time collecting. */
export const HEAP_GROWTH_PERCENT_BOUNDS = { min: 10, max: 300 } as const

/**
 * Sets this process's heap growth factor. Process-wide, so it is for the process's owner to call
 * (the CLI's `coordinator start`, the benches), never the library on its own. `0` changes nothing.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent === 0) return
  if (
    !Number.isSafeInteger(percent) ||
    percent < HEAP_GROWTH_PERCENT_BOUNDS.min ||
    percent > HEAP_GROWTH_PERCENT_BOUNDS.max
  ) {
    throw new InvalidOptionError(
      'heapGrowthPercent',
      `must be 0 (V8's own) or an integer from ${HEAP_GROWTH_PERCENT_BOUNDS.min} to ${HEAP_GROWTH_PERCENT_BOUNDS.max}`,
      percent,
    )
  }
  setFlagsFromString(`--heap-growing-percent=${percent}`)
}
