import {
  BlobMissingError,
  type BlobSource,
  decodeStoredRef,
  encodeStoredRef,
  InvalidJobSpecError,
  type JobSpec,
  type SpecIssue,
} from '@quorate/protocol'
import type { BlobStore } from './blob-store.ts'

/**
 * A module named by reference is read from the blob store at submission, so it is checked and stored
 * like one sent inline (modules are small enough for that; they reach agents in a `module` frame).
 *
 * @throws {BlobMissingError} when the blob is not held here.
 * @throws {InvalidJobSpecError} when its size is not the one the spec says.
 */
export async function admitModuleBlob(spec: JobSpec, store: BlobStore | undefined): Promise<void> {
  const ref = spec.module.blob
  if (ref === undefined) return
  const size = await store?.size(spec.module.sha256)
  if (store === undefined || size === undefined) throw new BlobMissingError(spec.module.sha256, 'module')
  if (size !== ref.size) {
    throw new InvalidJobSpecError([
      { field: 'module.size', message: `is ${ref.size}, but blob ${spec.module.sha256} has ${size} bytes` },
    ])
  }
  spec.module = { bytes: await store.readWhole(spec.module.sha256), sha256: spec.module.sha256 }
}

/**
 * Check, at submission, every input a spec gives by reference: the blob must be held here whole and
 * be the size the spec says. Each reference is then stored with this coordinator as its home, so a
 * coordinator on the same Redis that runs the shard without holding the blob names this one as the
 * source its agents fetch from. `home` is asked only when a reference is found: reading the node's
 * addresses costs more than the rest of a small submission.
 *
 * @throws {BlobMissingError} for the first blob not held here (upload it first).
 * @throws {InvalidJobSpecError} when a reference's size is not the blob's.
 */
export async function admitBlobInputs(
  spec: JobSpec,
  store: BlobStore | undefined,
  homeOf: () => BlobSource,
): Promise<void> {
  let home: BlobSource | undefined
  const issues: SpecIssue[] = []
  const sizes = new Map<string, number | undefined>()
  for (let i = 0; i < spec.inputs.length; i++) {
    const ref = decodeStoredRef(spec.inputs[i] as Uint8Array)
    if (ref === undefined) continue
    if (!sizes.has(ref.sha256)) {
      const size = await store?.size(ref.sha256)
      // In use from now: the blob collector's grace period starts over before the job is stored.
      if (size !== undefined) await store?.touch(ref.sha256)
      sizes.set(ref.sha256, size)
    }
    const size = sizes.get(ref.sha256)
    if (size === undefined) throw new BlobMissingError(ref.sha256, `inputs[${i}]`)
    if (size !== ref.size) {
      issues.push({ field: `inputs[${i}].size`, message: `is ${ref.size}, but blob ${ref.sha256} has ${size} bytes` })
      continue
    }
    home ??= homeOf()
    spec.inputs[i] = encodeStoredRef({ sha256: ref.sha256, size, home })
  }
  if (issues.length > 0) throw new InvalidJobSpecError(issues)
}

/** The blobs a spec's inputs give by reference, each once. */
export function blobRefsOf(spec: JobSpec): string[] {
  const shas = new Set<string>()
  for (const input of spec.inputs) {
    const ref = decodeStoredRef(input)
    if (ref !== undefined) shas.add(ref.sha256)
  }
  return [...shas]
}
