import { DEFAULT_HEAP_GROWTH_PERCENT, HEAP_GROWTH_PERCENT_BOUNDS } from '@quorate/coordinator'
import { fromEnv, intFlag } from '../args.ts'
import { UsageError } from '../output.ts'

/** The process's own flags of `coordinator start`. */
export const heapFlags = {
  'heap-growth-percent': { type: 'string' },
} as const

export const heapFlagsHelp = `  --heap-growth-percent N  how far the heap may grow past its live size between major
                       collections (env QUORATE_HEAP_GROWTH_PERCENT, ${HEAP_GROWTH_PERCENT_BOUNDS.min}–${HEAP_GROWTH_PERCENT_BOUNDS.max}, default ${DEFAULT_HEAP_GROWTH_PERCENT}; 0: V8's
                       own, which lets RSS follow the shard rate)`

/** --heap-growth-percent, checked: 0 or within the bounds the coordinator package states. */
export function heapGrowthOf(values: Record<string, unknown>): number {
  const raw = fromEnv(values['heap-growth-percent'] as string | undefined, 'QUORATE_HEAP_GROWTH_PERCENT')
  const percent = intFlag('heap-growth-percent', raw, DEFAULT_HEAP_GROWTH_PERCENT, 0)
  const { min, max } = HEAP_GROWTH_PERCENT_BOUNDS
  if (percent !== 0 && (percent < min || percent > max)) {
    throw new UsageError(`--heap-growth-percent must be 0 (V8's own) or from ${min} to ${max} (got "${raw}")`)
  }
  return percent
}
