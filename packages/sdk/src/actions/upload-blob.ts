import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { type BlobUploadResponse, ErrorCode, InvalidOptionError, QuorateError, sha256Hex } from '@quorate/protocol'
import { blobAnswerError } from '../errors.ts'

/** A shard input given by reference, as a job spec carries it. */
export interface BlobInputRef {
  blob: string
  size: number
}

export interface UploadBlobClient {
  readonly coordinatorUrl: string
}

export type UploadBlobParameters = Uint8Array
export type UploadBlobReturnType = BlobInputRef
export type UploadBlobErrorType = QuorateError

/**
 * Upload bytes as a blob (`PUT /v1/blobs/:sha256`) and get the reference to put among a job's
 * inputs. Uploading a blob the coordinator holds already sends nothing but a `HEAD`.
 *
 * @example
 * ```ts
 * const ref = await uploadBlob(client, bytes)
 * await client.submitJob({ wasm, inputs: [ref, ref] })
 * ```
 */
export async function uploadBlob(client: UploadBlobClient, bytes: UploadBlobParameters): Promise<UploadBlobReturnType> {
  const sha256 = sha256Hex(bytes)
  const held = await heldBytes(client, sha256)
  if (held < bytes.byteLength || bytes.byteLength === 0) {
    await put(client, sha256, bytes.subarray(held), held, bytes.byteLength)
  }
  return { blob: sha256, size: bytes.byteLength }
}

export interface UploadFileBlobsParameters {
  /** The file to upload, read as a stream: never loaded whole. */
  path: string
  /** Bytes per shard (one blob each); the last may hold fewer. @defaultValue the whole file as one blob */
  bytesPerShard?: number
}

/**
 * Split a file into shards of `bytesPerShard` bytes and upload each as a blob, streaming: each
 * range is read twice from disk (once to hash it, once to send it) and never held whole, so a file
 * far larger than memory can be submitted. An upload interrupted earlier resumes where the
 * coordinator's copy ends. Returns one reference per shard, in order.
 *
 * @example
 * ```ts
 * const inputs = await uploadFileBlobs(client, { path: 'data.bin', bytesPerShard: 64 << 20 })
 * const job = await client.submitJob({ wasm, inputs })
 * ```
 */
export async function uploadFileBlobs(
  client: UploadBlobClient,
  parameters: UploadFileBlobsParameters,
): Promise<BlobInputRef[]> {
  const { size } = await stat(parameters.path)
  const per = parameters.bytesPerShard ?? Math.max(size, 1)
  if (!Number.isSafeInteger(per) || per < 1)
    throw new InvalidOptionError('bytesPerShard', 'must be an integer ≥ 1', per)
  const refs: BlobInputRef[] = []
  for (let start = 0; start < size || (size === 0 && start === 0); start += per) {
    const end = Math.min(size, start + per)
    const range = (from: number) =>
      end > from ? createReadStream(parameters.path, { start: from, end: end - 1 }) : Readable.from([])
    const hash = createHash('sha256')
    for await (const chunk of range(start)) hash.update(chunk as Buffer)
    const sha256 = hash.digest('hex')
    const held = await heldBytes(client, sha256)
    if (held < end - start || end === start) await put(client, sha256, range(start + held), held, end - start)
    refs.push({ blob: sha256, size: end - start })
    if (size === 0) break
  }
  return refs
}

/** Bytes of the blob the coordinator holds: its size once whole, what an interrupted upload left before. */
async function heldBytes(client: UploadBlobClient, sha256: string): Promise<number> {
  const res = await fetch(`${client.coordinatorUrl}/v1/blobs/${sha256}`, { method: 'HEAD' })
  const offset = Number(res.headers.get('upload-offset') ?? '0')
  return Number.isSafeInteger(offset) && offset >= 0 ? offset : 0
}

async function put(
  client: UploadBlobClient,
  sha256: string,
  body: Uint8Array | Readable,
  offset: number,
  total: number,
): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
  const length = total - offset
  if (length > 0) headers['content-range'] = `bytes ${offset}-${total - 1}/${total}`
  const init: RequestInit & { duplex?: 'half' } =
    body instanceof Uint8Array
      ? { method: 'PUT', headers, body: body as unknown as NonNullable<RequestInit['body']> }
      : {
          method: 'PUT',
          headers,
          body: Readable.toWeb(body) as unknown as NonNullable<RequestInit['body']>,
          duplex: 'half',
        }
  const res = await fetch(`${client.coordinatorUrl}/v1/blobs/${sha256}`, init)
  const text = await res.text()
  if (!res.ok) {
    throw blobAnswerError(res.status, text, ErrorCode.INTERNAL, 'blob upload')
  }
  const answer = JSON.parse(text) as BlobUploadResponse
  if (!answer.complete) {
    throw new QuorateError(
      ErrorCode.BLOB_MISMATCH,
      `the coordinator holds ${answer.held} of ${total} bytes of ${sha256}`,
    )
  }
}
