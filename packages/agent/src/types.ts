/** What to sign: this agent's digest for one shard of one Escrow job. */
export interface ResultSignatureRequest {
  escrowJobId: string
  chainId: number
  escrow: string
  shard: number
  digest: string
}

export interface ResultSignature {
  signature: string
  /** Decimal uint256. */
  nonce: string
  signer: string
}
