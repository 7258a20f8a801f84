import { join } from 'node:path'
import { type Libp2p, requestBlob } from '@quorate/net'
import { BLOB_ID, type BlobSource, InvalidOptionError, JOB_BOUNDS } from '@quorate/protocol'
import type { Logger } from 'pino'
import type { BlobRefStore } from './backend.ts'
import { BlobCollector } from './blob-gc.ts'
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
  /** Deletes blobs no live job refers to; absent on a backend that keeps no references. */
  collector?: BlobCollector
  /** Records that job `jobId` refers to the blobs its spec gives by reference. */
  refer: (jobId: string, sha256s: string[]) => Promise<void>
  /**
   * Fetch a blob not held here from the coordinator that holds it (an output another coordinator on
   * the same backend fetched); resolves to whether it is held here now.
   */
  pull: (sha256: string) => Promise<boolean>
}

/**
 * The blob store in `dataDir/blobs` and this coordinator as a blob source. The source's addresses
 * are read when needed: they exist only once the node listens.
 */
export function blobParts(options: CoordinatorOptions, logger: Logger, refs: BlobRefStore | undefined): BlobParts {
  const store = new BlobStore(join(options.dataDir, 'blobs'), {
    ...(options.maxBlobBytes === undefined ? {} : { maxBlobBytes: options.maxBlobBytes }),
    ...(options.blobQuotaBytes === undefined ? {} : { quotaBytes: options.blobQuotaBytes }),
    ...(options.partIdleMs === undefined ? {} : { partIdleMs: options.partIdleMs }),
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
    home,
    ...(refs === undefined ? {} : { refer: (jobId, sha256, where) => refs.referBlobs(jobId, [sha256], where) }),
  })
  const gcLog = logger.child({ component: 'blob-gc' })
  const collector =
    refs === undefined
      ? undefined
      : new BlobCollector(options.blobGraceMs === undefined ? {} : { graceMs: options.blobGraceMs }, {
          store,
          refs,
          warn: (err, message) => gcLog.warn({ err }, message),
        })
  // The blobs were touched at admission (blob-inputs.ts): the grace period covers them until now.
  const refer = async (jobId: string, sha256s: string[]) => refs?.referBlobs(jobId, sha256s)
  const pull = async (sha256: string) => {
    if (!BLOB_ID.test(sha256)) return false
    const where = await refs?.blobHome(sha256)
    if (where === undefined || where.peerId === '' || where.peerId === home().peerId) return false
    await outputs.fetch({ sha256, size: where.size }, [{ peerId: where.peerId, addrs: where.addrs }])
    return true
  }
  return {
    store,
    sources: new BlobSources(home, { outputInlineMax }),
    home,
    node,
    outputs,
    ...(collector === undefined ? {} : { collector }),
    refer,
    pull,
  }
}
