import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { type BlobInputRef, type QuorateClient, uploadFileBlobs } from '@quorate/sdk'
import { UsageError } from '../output.ts'
import { readFileOrUsage } from './job-common.ts'

/** `--input` files larger than this travel as blobs unless `--blob-threshold` says otherwise. */
export const DEFAULT_BLOB_THRESHOLD_BYTES = 8 * 1024 * 1024

/** A file that goes as a blob: its path and the reference the spec names it by. */
export interface BlobFile {
  path: string
  ref: BlobInputRef
}

/**
 * The inputs of `--input` files: a small file is read and sent inline; a larger one is only hashed
 * here (streamed, never read whole) and named by reference, to be uploaded by {@link uploadBlobFiles}.
 */
export async function readInputFiles(
  files: readonly string[],
  thresholdBytes: number,
): Promise<{ inputs: Array<Uint8Array | BlobInputRef>; blobFiles: BlobFile[] }> {
  const inputs: Array<Uint8Array | BlobInputRef> = []
  const blobFiles: BlobFile[] = []
  for (const path of files) {
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    )
    if (size === undefined || size <= thresholdBytes) {
      inputs.push(await readFileOrUsage(path, '--input'))
      continue
    }
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
    const ref = { blob: hash.digest('hex'), size }
    inputs.push(ref)
    blobFiles.push({ path, ref })
  }
  return { inputs, blobFiles }
}

/** Upload the blob inputs the coordinator does not hold yet (each streamed from its file). */
export async function uploadBlobFiles(client: QuorateClient, blobFiles: readonly BlobFile[]): Promise<void> {
  for (const { path, ref } of blobFiles) {
    const [uploaded] = await uploadFileBlobs(client, { path })
    if (uploaded?.blob !== ref.blob) {
      throw new UsageError(`--input ${path} changed while it was being submitted; submit again`)
    }
  }
}
