/**
 * @quorate/sdk: submit WebAssembly jobs to a Quorate coordinator, follow
 * them live, and get results that the SDK checks for itself.
 *
 * @example
 * ```ts
 * import { createClient, ranges } from '@quorate/sdk'
 * const client = createClient({ coordinatorUrl: 'http://127.0.0.1:7700' })
 * const job = await client.submitJob({ wasm, inputs: ranges(2, 2000, 2), redundancy: 3 })
 * for (const shard of await job.results()) console.log(shard.index, new TextDecoder().decode(shard.output))
 * ```
 */

export { ErrorCode, InvalidOptionError, isQuorateError, type QuorateError } from '@quorate/protocol'
export {
  type DownloadBlobClient,
  type DownloadBlobErrorType,
  type DownloadBlobParameters,
  type DownloadBlobReturnType,
  downloadBlob,
  readOutput,
  saveBlob,
} from './actions/download-blob.ts'
export {
  type EstimateClient,
  type EstimateErrorType,
  type EstimateParameters,
  type EstimateReturnType,
  estimate,
  type PlacementEstimate,
} from './actions/estimate.ts'
export {
  type MapReduceJobOptions,
  type MapReduceParameters,
  type MapReduceReturnType,
  mapReduce,
} from './actions/map-reduce.ts'
export {
  type BlobInputRef,
  type UploadBlobErrorType,
  type UploadBlobParameters,
  type UploadBlobReturnType,
  type UploadFileBlobsParameters,
  uploadBlob,
  uploadFileBlobs,
} from './actions/upload-blob.ts'
export {
  type ShardResult,
  type VerifyResultsErrorType,
  type VerifyResultsParameters,
  type VerifyResultsReturnType,
  verifyResults,
} from './actions/verify-results.ts'
export {
  type VerifyResultsPageParameters,
  type VerifyResultsPageReturnType,
  verifyResultsPage,
} from './actions/verify-results-page.ts'
export {
  type VerifySignaturesErrorType,
  type VerifySignaturesParameters,
  type VerifySignaturesReturnType,
  verifySignatures,
} from './actions/verify-signatures.ts'
export {
  type ChainVerificationOptions,
  type ClientOptions,
  createClient,
  type QuorateClient,
} from './client.ts'
export {
  CoordinatorUnreachableError,
  InsufficientBalanceError,
  type InsufficientBalanceErrorParameters,
  NotACoordinatorError,
  PaymentError,
  type PaymentProblem,
  ResultVerificationError,
  type ResultVerificationErrorParameters,
  type ShortAsset,
  type VerificationCheck,
  WaitTimeoutError,
} from './errors.ts'
export { JobHandle, type JobHandleOptions, type ResultsIteratorOptions, type WaitOptions } from './job-handle.ts'
export { expectedQuorumOf, type JobInput, toJobSpecJson } from './job-spec.ts'
export { deriveOwnerKey, generateOwnerKey, type OwnerKey, ownerKeyFromPem } from './owner-key.ts'
export type { ShardPageParameters } from './page-query.ts'
export type {
  JobFunding,
  JobQuote,
  PaymentEstimate,
  PaymentTerms,
  WalletOptions,
  WalletSigner,
} from './payment-terms.ts'
export { type SplitBytesParameters, splitBytes } from './sharding/bytes.ts'
export { type SplitItemsParameters, splitItems } from './sharding/items.ts'
export { type SplitLinesParameters, splitLines } from './sharding/lines.ts'
export { ranges } from './sharding/ranges.ts'
export { readEventStream, type ServerSentEvent } from './sse.ts'
