import { BLOB_GRACE_BOUNDS, type CoordinatorOptions, PART_IDLE_BOUNDS } from '@quorate/coordinator'
import { intFlag } from '../args.ts'
import { durationFlag } from '../duration.ts'
import { UsageError } from '../output.ts'

/** The blob store's flags of `coordinator start`. */
export const blobFlags = {
  'max-blob-bytes': { type: 'string' },
  'blob-quota-bytes': { type: 'string' },
  'output-inline-bytes': { type: 'string' },
  'blob-grace': { type: 'string' },
  'part-idle': { type: 'string' },
} as const

export const blobFlagsHelp = `  --max-blob-bytes N   largest blob PUT /v1/blobs/:sha256 takes (inputs by reference; default 1 GiB)
  --blob-quota-bytes N bytes all blobs in --data-dir/blobs may take together; uploads past it
                       are refused with BLOB_STORE_FULL (default 16 GiB)
  --output-inline-bytes N  outputs over N bytes stay blobs, fetched once decided (default 64 KiB)
  --blob-grace DURATION  a blob no job refers to is deleted this long after it was uploaded
                       (1s to 30d, default 24h); blobs a job refers to go when it is purged
  --part-idle DURATION an interrupted blob upload not resumed within this is dropped (1m to 30d,
                       default 24h)`

/** The blob store's limits, each set only when given. */
export function blobOptions(values: Record<string, unknown>): Partial<CoordinatorOptions> {
  const maxBlobBytes = intFlag('max-blob-bytes', values['max-blob-bytes'] as string | undefined, undefined, 1)
  const blobQuotaBytes = intFlag('blob-quota-bytes', values['blob-quota-bytes'] as string | undefined, undefined, 1)
  const outputInlineBytes = intFlag(
    'output-inline-bytes',
    values['output-inline-bytes'] as string | undefined,
    undefined,
    0,
  )
  const blobGraceMs = boundedDuration('blob-grace', values['blob-grace'], BLOB_GRACE_BOUNDS)
  const partIdleMs = boundedDuration('part-idle', values['part-idle'], PART_IDLE_BOUNDS)
  return {
    ...(outputInlineBytes === undefined ? {} : { outputInlineBytes }),
    ...(maxBlobBytes === undefined ? {} : { maxBlobBytes }),
    ...(blobQuotaBytes === undefined ? {} : { blobQuotaBytes }),
    ...(blobGraceMs === undefined ? {} : { blobGraceMs }),
    ...(partIdleMs === undefined ? {} : { partIdleMs }),
  }
}

function boundedDuration(
  name: string,
  raw: unknown,
  bounds: { readonly min: number; readonly max: number },
): number | undefined {
  if (raw === undefined) return undefined
  const ms = durationFlag(name, raw as string)
  if (ms < bounds.min || ms > bounds.max) {
    throw new UsageError(`--${name} must be from ${bounds.min} ms to ${bounds.max} ms (got "${raw as string}")`)
  }
  return ms
}
