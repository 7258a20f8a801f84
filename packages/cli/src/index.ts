/**
 * @quorate/cli: the `quorate` command.
 *
 * @example
 * ```sh
 * npx quorate devnet --once
 * npx quorate submit --wasm primes.wasm --input range.txt
 * ```
 */

export { type Adversary, type AdversaryOptions, type AdversaryStrategy, startAdversary } from './adversaries/peer.ts'
export { main } from './main.ts'
export { EXIT } from './output.ts'
export { VERSION } from './version.ts'
