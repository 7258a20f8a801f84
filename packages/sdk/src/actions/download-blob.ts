import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BLOB_ID, BlobMismatchError, ErrorCode, type OutputBlobRef, QuorateError } from '@quorate/protocol'
import { blobAnswerError } from '../errors.ts'
import type { ShardResult } from './verify-results.ts'

export interface DownloadBlobClient {
  readonly coordinatorUrl: string
}

export type DownloadBlobParameters = OutputBlobRef
export type DownloadBlobReturnType = Uint8Array
export type DownloadBlobErrorType = QuorateError

/**
 * The bytes of blob `sha256` of `size` bytes (`GET /v1/blobs/:sha256`), checked: a body of another
 * length or hash throws `BLOB_MISMATCH`, so the coordinator cannot hand back other bytes than the
 * ones voted on. Held in memory: for a large one, {@link saveBlob} streams it to a file.
 *
 * @example
 * ```ts
 * const [shard] = await handle.results()
 * const bytes = shard.outputBlob ? await downloadBlob(client, shard.outputBlob) : shard.output
 * ```
 */
export async function downloadBlob(
  client: DownloadBlobClient,
  ref: DownloadBlobParameters,
): Promise<DownloadBlobReturnType> {
  const hash = createHash('sha256')
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of await blobBody(client, ref)) {
    size += chunk.byteLength
    if (size > ref.size) break
    hash.update(chunk)
    parts.push(chunk)
  }
  check(ref, size, hash.digest('hex'))
  const bytes = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    bytes.set(part, at)
    at += part.byteLength
  }
  return bytes
}

/**
 * Stream blob `ref` into the file `path`, hashing it on the way: the file appears (renamed from
 * `path.part`) only once the whole checks out; otherwise nothing is left and `BLOB_MISMATCH` is thrown.
 */
export async function saveBlob(client: DownloadBlobClient, ref: OutputBlobRef, path: string): Promise<void> {
  const hash = createHash('sha256')
  let size = 0
  const part = `${path}.part`
  try {
    await pipeline(
      await blobBody(client, ref),
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          size += chunk.byteLength
          if (size > ref.size) check(ref, size, '')
          hash.update(chunk)
          yield chunk
        }
      },
      createWriteStream(part),
    )
    check(ref, size, hash.digest('hex'))
    await rename(part, path)
  } catch (err) {
    await rm(part, { force: true })
    throw err
  }
}

/**
 * A checked shard result's output bytes: inline, or, for a large output held as a blob, downloaded
 * from the coordinator and checked against the digest the shard was accepted with. Undefined for a
 * shard without output (not accepted, or a deterministic failure).
 */
export async function readOutput(client: DownloadBlobClient, result: ShardResult): Promise<Uint8Array | undefined> {
  if (result.output !== undefined) return result.output
  if (result.outputBlob === undefined) return undefined
  return downloadBlob(client, result.outputBlob)
}

async function blobBody(client: DownloadBlobClient, ref: OutputBlobRef): Promise<AsyncIterable<Uint8Array>> {
  if (!BLOB_ID.test(ref.sha256)) {
    throw new QuorateError(ErrorCode.BAD_REQUEST, 'a blob is named by its sha256: 64 lower-case hex digits', {
      details: { got: ref.sha256.slice(0, 80) },
    })
  }
  const res = await fetch(`${client.coordinatorUrl}/v1/blobs/${ref.sha256}`)
  if (!res.ok || res.body === null) {
    throw blobAnswerError(res.status, await res.text(), ErrorCode.BLOB_MISSING, `blob ${ref.sha256}`)
  }
  return Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0])
}

function check(ref: OutputBlobRef, size: number, actual: string): void {
  if (size !== ref.size) {
    throw new BlobMismatchError(
      `blob ${ref.sha256} came back with ${size > ref.size ? 'more than ' : ''}${size} bytes, not ${ref.size}`,
      {
        expected: ref.size,
        size,
      },
    )
  }
  if (actual !== ref.sha256) {
    throw new BlobMismatchError(`blob ${ref.sha256} came back hashing to ${actual}`, { expected: ref.sha256, actual })
  }
}
