import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/** File name of the node identity inside a data dir. */
export const PEER_KEY_FILE = 'peer.key'

/**
 * Load the node's Ed25519 identity from `<dataDir>/peer.key`, creating it
 * (mode 0600, written atomically) on first start. A provider's PeerId is its
 * registry identity and reputation, so losing it to a crash mid-write would
 * be costly: hence write-then-rename.
 */
export async function loadOrCreatePrivateKey(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the node identity at ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  await mkdir(dataDir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return key
}
