import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Wallet } from 'ethers'
import { escrowDomain, randomEvidenceNonce, signShardResult } from './eip712.ts'

/** File name of a provider's operator key inside its data dir. */
export const OPERATOR_KEY_FILE = 'operator.key'

export interface OperatorKey {
  /** 0x-prefixed 32-byte hex. */
  privateKey: string
  /** Its checksummed address. */
  address: string
}

/**
 * Load an EVM key kept as hex text in `path`, creating a random one (mode
 * 0600, written then renamed) if the file does not exist.
 */
export async function loadOrCreateOperatorKey(path: string): Promise<OperatorKey> {
  try {
    const text = (await readFile(path, 'utf8')).trim()
    const hex = text.startsWith('0x') ? text : `0x${text}`
    if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${path} does not hold a 32-byte hex key`)
    return { privateKey: hex, address: new Wallet(hex).address }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dirname(path), { recursive: true })
  const wallet = Wallet.createRandom()
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${wallet.privateKey}\n`, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return { privateKey: wallet.privateKey, address: wallet.address }
}

/**
 * A function an agent signs its results with: EIP-712 `ShardResult` over the
 * Escrow's domain, a fresh random nonce each time. Fits `createAgent`'s `signResult`.
 */
export function createResultSigner(
  privateKey: string,
): (request: {
  escrowJobId: string
  chainId: number
  escrow: string
  shard: number
  digest: string
}) => Promise<{ signature: string; nonce: string; signer: string }> {
  const wallet = new Wallet(privateKey)
  return async (request) => {
    const signed = await signShardResult(wallet, escrowDomain(request.chainId, request.escrow), {
      jobId: request.escrowJobId,
      shard: request.shard,
      digest: request.digest,
      nonce: randomEvidenceNonce(),
    })
    return { signature: signed.signature, nonce: signed.nonce.toString(), signer: wallet.address }
  }
}
