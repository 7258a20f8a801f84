import { escrowAbi, merklePayoutAbi, quorateTestTokenAbi, reentrantTokenAbi, registryAbi } from '@quorate/contracts-abi'
import { Interface, type InterfaceAbi } from 'ethers'

/** Every ABI the client knows, so a revert from any of them can be decoded. */
export const allAbis = [escrowAbi, registryAbi, quorateTestTokenAbi, reentrantTokenAbi, merklePayoutAbi] as const

const asAbi = (abi: readonly unknown[]) => abi as unknown as InterfaceAbi

export const escrowInterface = new Interface(asAbi(escrowAbi))
export const registryInterface = new Interface(asAbi(registryAbi))
/** The test token's ABI is a superset of ERC-20 (plus `mint`). */
export const tokenInterface = new Interface(asAbi(quorateTestTokenAbi))

/** Job status, as the Escrow stores it. */
export const JobStatus = { None: 0, Funded: 1, Settled: 2, Reclaimed: 3 } as const
export type JobStatusName = 'none' | 'funded' | 'settled' | 'reclaimed'
export const jobStatusNames: readonly JobStatusName[] = ['none', 'funded', 'settled', 'reclaimed']
