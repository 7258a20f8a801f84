import { InvalidOptionError } from '@quorate/protocol'
import { type BaseWallet, getAddress, hexlify, randomBytes, TypedDataEncoder, verifyTypedData, Wallet } from 'ethers'
import { toBytes32 } from './hex.ts'

/** The EIP-712 domain of one Escrow: its chain and address pin every signature to it. */
export interface EscrowDomain {
  name: 'QuorateEscrow'
  version: '1'
  chainId: bigint
  verifyingContract: string
}

/** What a provider's operator key signs for one shard: the Escrow's `ShardResult`. */
export interface ShardResult {
  /** The on-chain job id (bytes32). */
  jobId: string
  /** Shard index. */
  shard: number
  /** The digest the provider voted for: the protocol's sha256 hex, with or without `0x`. */
  digest: string
  /** Any uint256, never reused by this signer for evidence; {@link randomEvidenceNonce} picks one. */
  nonce: bigint
}

export interface SignedShardResult extends ShardResult {
  /** 65-byte signature, hex. */
  signature: string
}

export const shardResultTypes = {
  ShardResult: [
    { name: 'jobId', type: 'bytes32' },
    { name: 'shard', type: 'uint32' },
    { name: 'digest', type: 'bytes32' },
    { name: 'nonce', type: 'uint256' },
  ],
} as const

export function escrowDomain(chainId: bigint | number, escrow: string): EscrowDomain {
  return { name: 'QuorateEscrow', version: '1', chainId: BigInt(chainId), verifyingContract: getAddress(escrow) }
}

/** A fresh random 256-bit nonce; collisions are as likely as guessing a key. */
export function randomEvidenceNonce(): bigint {
  return BigInt(hexlify(randomBytes(32)))
}

function message(result: ShardResult) {
  const jobId = toBytes32(result.jobId)
  const digest = toBytes32(result.digest)
  if (jobId === undefined) throw new InvalidOptionError('jobId', 'must be 32 bytes of hex', result.jobId)
  if (digest === undefined) throw new InvalidOptionError('digest', 'must be 32 bytes of hex', result.digest)
  if (!Number.isInteger(result.shard) || result.shard < 0 || result.shard > 0xffffffff) {
    throw new InvalidOptionError('shard', 'must be an integer in [0, 2^32)', result.shard)
  }
  if (typeof result.nonce !== 'bigint' || result.nonce < 0n || result.nonce >= 2n ** 256n) {
    throw new InvalidOptionError('nonce', 'must be a bigint in [0, 2^256)', result.nonce)
  }
  return { jobId, shard: result.shard, digest, nonce: result.nonce }
}

/** The 32-byte EIP-712 hash that gets signed (equals `Escrow.hashShardResult`). */
export function hashShardResult(domain: EscrowDomain, result: ShardResult): string {
  return TypedDataEncoder.hash(domain, shardResultTypes as never, message(result))
}

/**
 * Signs a shard result with a provider's operator key. Agents do this for
 * every result they report; the coordinator keeps the signatures as evidence.
 */
export async function signShardResult(
  operator: string | BaseWallet,
  domain: EscrowDomain,
  result: ShardResult,
): Promise<SignedShardResult> {
  const wallet = typeof operator === 'string' ? new Wallet(operator) : operator
  const msg = message(result)
  const signature = await wallet.signTypedData(domain, shardResultTypes as never, msg)
  return { jobId: msg.jobId, shard: msg.shard, digest: msg.digest, nonce: msg.nonce, signature }
}

/** The operator address that signed `signed`, or throws if the signature is malformed. */
export function recoverShardResultSigner(domain: EscrowDomain, signed: SignedShardResult): string {
  return verifyTypedData(domain, shardResultTypes as never, message(signed), signed.signature)
}

/** True if `operator` signed exactly this result for this Escrow and chain. */
export function verifyShardResult(domain: EscrowDomain, signed: SignedShardResult, operator: string): boolean {
  try {
    return recoverShardResultSigner(domain, signed) === getAddress(operator)
  } catch {
    return false
  }
}
