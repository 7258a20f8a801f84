import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreatePrivateKey, PEER_KEY_FILE } from '../src/index.ts'

let dir: string | undefined
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('loadOrCreatePrivateKey', () => {
  it('creates a key once, owner-readable only, and loads the same identity afterwards', async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-keys-'))
    const first = await loadOrCreatePrivateKey(join(dir, 'node'))
    const again = await loadOrCreatePrivateKey(join(dir, 'node'))
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(first).toString())
    expect((await stat(join(dir, 'node', PEER_KEY_FILE))).mode & 0o777).toBe(0o600)
  })

  it('refuses a corrupt key file instead of silently replacing the identity', async () => {
    dir = await mkdtemp(join(tmpdir(), 'quorate-keys-'))
    await writeFile(join(dir, PEER_KEY_FILE), 'not a key')
    await expect(loadOrCreatePrivateKey(dir)).rejects.toThrow(/cannot read the node identity/)
    expect(await readFile(join(dir, PEER_KEY_FILE), 'utf8')).toBe('not a key')
  })
})
