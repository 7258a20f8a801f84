import { join } from 'node:path'
import { type Libp2p, requestBlob } from '@quorate/net'
import { type BlobSource, InvalidOptionError, JOB_BOUNDS } from '@quorate/protocol'
import type { Logger } from 'pino'
import { BlobSources } from './blob-sources.ts'
import { BlobStore } from './blob-store.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import type { CoordinatorOptions } from './coordinator-options.ts'
import { OutputFetcher } from './output-fetch.ts'

/** The blob store, who holds which blob, this coordinator as a source (once `node` is set), and the output fetcher. */
export interface BlobParts {
  store: BlobStore
  sources: BlobSources
  home: () => BlobSource
  node: { current?: Libp2p }
  /** Fetches accepted outputs held as blobs from the providers of their majority. */
  outputs: OutputFetcher
}

/**
 * The blob store in `dataDir/blobs` and this coordinator as a blob source. The source's addresses
 * are read when needed: they exist only once the node listens.
 */
export function blobParts(options: CoordinatorOptions, logger: Logger): BlobParts {
  const store = new BlobStore(join(options.dataDir, 'blobs'), {
    ...(options.maxBlobBytes === undefined ? {} : { maxBlobBytes: options.maxBlobBytes }),
    ...(options.blobQuotaBytes === undefined ? {} : { quotaBytes: options.blobQuotaBytes }),
  })
  const node: { current?: Libp2p } = {}
  const home = (): BlobSource => ({
    peerId: node.current?.peerId.toString() ?? '',
    addrs: (node.current?.getMultiaddrs() ?? []).slice(0, 4).map((m) => m.toString()),
  })
  const outputInlineMax = options.outputInlineBytes ?? COORDINATOR_DEFAULTS.outputInlineBytes
  if (!Number.isSafeInteger(outputInlineMax) || outputInlineMax < 0 || outputInlineMax > JOB_BOUNDS.maxOutputBytes) {
    throw new InvalidOptionError(
      'outputInlineBytes',
      `must be an integer from 0 to ${JOB_BOUNDS.maxOutputBytes}`,
      options.outputInlineBytes,
    )
  }
  const log = logger.child({ component: 'output-fetch' })
  const outputs = new OutputFetcher({
    store,
    request: (source, request) => {
      if (node.current === undefined) throw new Error('the coordinator has not started')
      return requestBlob(node.current, source, request)
    },
    warn: (fields, message) => log.warn(fields, message),
  })
  return { store, sources: new BlobSources(home, { outputInlineMax }), home, node, outputs }
}
