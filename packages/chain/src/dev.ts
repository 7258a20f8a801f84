/**
 * @quorate/chain/dev: a local chain for development and tests — an anvil
 * launcher and the script that deploys the Registry, Escrow and a test token.
 * A separate entry point so the chain client (and the SDK on top of it)
 * installs without anvil's binary: `@foundry-rs/anvil` is an optional peer
 * dependency, needed only by whoever starts a local chain.
 */
export {
  type AnvilInstance,
  anvilRpc,
  type DevAccount,
  findAnvilBinary,
  freePort,
  type StartAnvilOptions,
  startAnvil,
} from './anvil.ts'
export {
  DeployQuorateError,
  type DeployQuorateParameters,
  type DeployQuorateReturnType,
  deployQuorate,
} from './deploy.ts'
