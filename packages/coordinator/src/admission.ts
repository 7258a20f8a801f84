import { readFileSync } from 'node:fs'
import { InvalidOptionError, type ProviderAdmission } from '@quorate/protocol'

/** Who may provide to a coordinator without a chain; see `CoordinatorOptions.admission`. */
export type AdmissionOptions =
  | { mode: 'open' }
  | {
      mode: 'allowlist'
      /**
       * Peer ids admitted. Peer ids only: an operator named in hello is a claim
       * anyone can make without a chain, a peer id is proven by the connection.
       */
      allow?: readonly string[]
      /** A file of peer ids, one a line (`#` starts a comment); read again at every hello. */
      file?: string
    }

export interface AdmissionPolicy {
  readonly admission: ProviderAdmission
  /** Resolves to the reason a provider may not work here, or undefined. */
  admit(peerId: string, operator: string | undefined): Promise<string | undefined>
}

/** Largest allowlist file read: a list of ids, not a data set. */
const MAX_ALLOWLIST_BYTES = 4 * 1024 * 1024

/**
 * The admission policy of a coordinator without a chain. An open network
 * admits everyone and says so; an allowlist admits the peer ids its
 * operator named, re-reading its file so the list can change without a restart.
 */
export function admissionPolicy(options: AdmissionOptions): AdmissionPolicy {
  if (options.mode === 'open') {
    return { admission: { mode: 'open', untrusted: true }, admit: async () => undefined }
  }
  if (options.mode !== 'allowlist') {
    throw new InvalidOptionError('admission.mode', 'must be "open" or "allowlist"', (options as { mode: unknown }).mode)
  }
  if ((options.allow === undefined || options.allow.length === 0) && options.file === undefined) {
    throw new InvalidOptionError('admission.allow', 'or admission.file must name who may provide', options.allow)
  }
  const fixed = new Set(options.allow ?? [])
  const listed = (): Set<string> => {
    if (options.file === undefined) return fixed
    const text = readFileSync(options.file, 'utf8')
    if (text.length > MAX_ALLOWLIST_BYTES) throw new Error(`allowlist ${options.file} is larger than 4 MiB`)
    const ids = new Set(fixed)
    for (const line of text.split('\n')) {
      const id = line.replace(/#.*/, '').trim()
      if (id !== '') ids.add(id)
    }
    return ids
  }
  return {
    admission: { mode: 'allowlist', untrusted: false },
    async admit(peerId, operator) {
      let ids: Set<string>
      try {
        ids = listed()
      } catch (err) {
        return `the allowlist cannot be read: ${(err as Error).message}`
      }
      if (ids.has(peerId)) return undefined
      return `peer ${peerId} (operator ${operator ?? 'none'}) is not on this coordinator's allowlist`
    },
  }
}
