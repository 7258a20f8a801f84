// A paid coordinator's published terms as the SDK sees them: the wallet
// options, the terms parsed and compared, and a job's price under them.
import type { ChainClientOptions, EstimateFundJobReturnType, QuorateAddresses } from '@quorate/chain'
import {
  type CoordinatorInfo,
  type CoordinatorPaymentTerms,
  InvalidOptionError,
  type JobSpecJson,
  parseJobSpec,
} from '@quorate/protocol'
import { PaymentError } from './errors.ts'

/** An ethers wallet (`new Wallet(key)`, `Wallet.fromPhrase(…)`): it signs the escrow transactions. */
export type WalletSigner = Exclude<ChainClientOptions['account'], string | undefined>

interface WalletCommon {
  /**
   * JSON-RPC endpoint of the chain the coordinator settles on. Use your own
   * (or one you trust): the coordinator's published terms (chain, Escrow,
   * token, account) are checked against it before anything is sent, and,
   * when the client has no `chain` settings, result signatures are checked
   * on it. The SDK never uses an endpoint the coordinator names.
   */
  rpcUrl: string
  /**
   * The Quorate Registry you trust on that chain. With it, a coordinator
   * whose terms name another Registry or Escrow is refused; without it, the
   * wallet trusts the Registry the coordinator names, once the chain shows
   * that its Escrow and token are the ones bound to it.
   * @defaultValue the Registry the coordinator's terms name
   */
  registryAddress?: string
  /**
   * Most tokens (base units) the wallet escrows for one job; a coordinator
   * asking more gets a `PaymentError` (problem `limit`) and nothing is sent.
   * @defaultValue no limit
   */
  maxBudget?: bigint
  /** Receipt polling interval, for fast local chains. @defaultValue 250 */
  pollingIntervalMs?: number
}

/**
 * The account that pays for jobs on paid coordinators: an RPC endpoint and
 * a key (hex `privateKey`), or an ethers wallet (`signer`).
 */
export type WalletOptions = WalletCommon &
  ({ privateKey: string; signer?: undefined } | { signer: WalletSigner; privateKey?: undefined })

/**
 * A paid coordinator's terms (its `GET /v1/info` → `payment`), as numbers.
 * Once the SDK has checked them on the wallet's own RPC endpoint, `addresses`
 * are the ones read from the chain.
 */
export interface PaymentTerms {
  chainId: bigint
  addresses: QuorateAddresses
  /** The coordinator's account: the escrow must name it, and it alone can settle. */
  coordinator: string
  /** Paid to each provider in a shard's majority, token base units. */
  pricePerReplica: bigint
  /** The coordinator's fee per job, token base units. */
  fee: bigint
  /** Least time a job's escrow must have left when it is submitted, in seconds. */
  minSecondsLeft: number
}

/** A job's price at one coordinator, computed from its published terms exactly as the coordinator computes it. */
export interface JobQuote {
  /**
   * What the Escrow must hold for the job, in token base units: every
   * replica the job could need (shards × maxReplicas) at the price, plus
   * the fee.
   */
  budget: bigint
  /** Paid to each provider in a shard's majority. */
  pricePerReplica: bigint
  /** The coordinator's fee per job, and the `maxFee` the SDK escrows. */
  fee: bigint
  /**
   * What the job costs if every shard's first results agree (shards ×
   * redundancy × price + fee); the rest of the budget is refunded.
   */
  expected: bigint
}

/** How a job submitted through the wallet was paid. */
export interface JobFunding {
  /** The Escrow job id given to the coordinator as `payment.escrowJobId`. */
  escrowJobId: string
  chainId: number
  escrow: string
  coordinator: string
  /** Escrowed, token base units. */
  budget: bigint
  maxFee: bigint
  /** False when an escrow this wallet had already funded for the job was reused: nothing was sent. */
  funded: boolean
  /** The approval's transaction hash, if one was sent. */
  approveHash?: string
  /** The funding's transaction hash, if one was sent. */
  fundHash?: string
}

/** The payment part of an estimate. */
export type PaymentEstimate =
  | {
      /** The coordinator publishes no payment terms: it runs jobs for free, nothing to fund, no gas. */
      required: false
      price: 0n
      reason: string
    }
  | {
      required: true
      chainId: number
      token: string
      escrow: string
      coordinator: string
      /**
       * Whether the chain, the contracts and the coordinator's account were
       * checked on the client's own RPC endpoint (it has a `wallet` or `chain`
       * settings). When false they are the coordinator's word alone.
       */
      verified: boolean
      quote: JobQuote
      /**
       * Tokens the wallet would send now: the quote's budget, or 0n when an
       * escrow it already funded for this job is reused (`existingEscrowJobId`).
       */
      toFund: bigint
      existingEscrowJobId?: string
      /** The wallet's token balance (with a wallet). */
      balance?: bigint
      /** Gas for approve + fund at the current gas price (with a wallet, when something is to fund). */
      gas?: Omit<EstimateFundJobReturnType, 'method'>
      /** Why `gas` is missing although there is something to fund. */
      gasProblem?: string
    }

/** The coordinator requests the payer needs. */
export interface PaymentHttp {
  request<T>(method: string, path: string, body?: unknown): Promise<T>
  info(): Promise<CoordinatorInfo>
}

/** Where the payer checks terms and pays: the client's own chain settings, never the coordinator's. */
export interface PayerChainOptions {
  /** The wallet's `rpcUrl`, or else the client's `chain.rpcUrl`. */
  rpcUrl: string
  wallet?: WalletOptions
  /** The Registry the client trusts, if it names one. */
  registry?: string | undefined
  /** The Escrow the client trusts, if it names one. */
  escrow?: string | undefined
}

export function validateWallet(wallet: WalletOptions): void {
  if (typeof wallet.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(wallet.rpcUrl)) {
    throw new InvalidOptionError('wallet.rpcUrl', 'must be an http(s) or ws(s) URL', wallet.rpcUrl)
  }
  if ((wallet.privateKey === undefined) === (wallet.signer === undefined)) {
    throw new InvalidOptionError('wallet', 'needs exactly one of privateKey (hex) and signer (an ethers wallet)')
  }
  if (wallet.privateKey !== undefined && !/^(0x)?[0-9a-fA-F]{64}$/.test(wallet.privateKey)) {
    throw new InvalidOptionError('wallet.privateKey', 'must be 32 bytes of hex', '(hidden)')
  }
  if (wallet.registryAddress !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(wallet.registryAddress)) {
    throw new InvalidOptionError('wallet.registryAddress', 'must be a 20-byte hex address', wallet.registryAddress)
  }
  if (wallet.maxBudget !== undefined && (typeof wallet.maxBudget !== 'bigint' || wallet.maxBudget <= 0n)) {
    throw new InvalidOptionError('wallet.maxBudget', 'must be a positive bigint (token base units)', wallet.maxBudget)
  }
}

/**
 * The terms a coordinator publishes, checked for shape: they come off the
 * network, and a malformed amount must not become a budget.
 *
 * @throws {PaymentError} problem `terms`, naming every bad field.
 */
export function parsePaymentTerms(published: CoordinatorPaymentTerms): PaymentTerms {
  const raw = published as unknown as Record<string, unknown>
  const problems: string[] = []
  const address = (key: string): string => {
    const value = raw[key]
    if (typeof value === 'string' && /^0x[0-9a-fA-F]{40}$/.test(value)) return value
    problems.push(`${key} must be a 20-byte hex address (got ${JSON.stringify(value)})`)
    return ''
  }
  const amount = (key: string): bigint => {
    const value = raw[key]
    if (typeof value === 'string' && /^\d{1,78}$/.test(value)) return BigInt(value)
    problems.push(`${key} must be a decimal string of base units (got ${JSON.stringify(value)})`)
    return 0n
  }
  const integer = (key: string, least: number): number => {
    const value = raw[key]
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= least) return value
    problems.push(`${key} must be an integer ≥ ${least} (got ${JSON.stringify(value)})`)
    return 0
  }
  const terms: PaymentTerms = {
    chainId: BigInt(integer('chainId', 1)),
    addresses: { token: address('token'), registry: address('registry'), escrow: address('escrow') },
    coordinator: address('coordinator'),
    pricePerReplica: amount('pricePerReplica'),
    fee: amount('fee'),
    minSecondsLeft: integer('minSecondsLeft', 0),
  }
  if (problems.length > 0) {
    throw new PaymentError('terms', `the coordinator's payment terms are malformed: ${problems.join('; ')}`, {
      details: { problems },
    })
  }
  return terms
}

/**
 * A job's price under these terms: the budget the coordinator requires
 * (`shards × maxReplicas × pricePerReplica + fee`, as it computes it) and
 * what the job costs if every shard agrees at once.
 */
export function quoteJob(terms: Pick<PaymentTerms, 'pricePerReplica' | 'fee'>, spec: JobSpecJson): JobQuote {
  const parsed = parseJobSpec(spec)
  const shards = BigInt(parsed.inputs.length)
  const { pricePerReplica, fee } = terms
  return {
    budget: shards * BigInt(parsed.maxReplicas) * pricePerReplica + fee,
    pricePerReplica,
    fee,
    expected: shards * BigInt(parsed.redundancy) * pricePerReplica + fee,
  }
}

/** Two terms are the same when every field is: a coordinator restarted with other terms needs a new check. */
export function termsKey(terms: PaymentTerms): string {
  const { addresses: a } = terms
  return [
    terms.chainId,
    a.token,
    a.registry,
    a.escrow,
    terms.coordinator,
    terms.pricePerReplica,
    terms.fee,
    terms.minSecondsLeft,
  ]
    .map((v) => String(v).toLowerCase())
    .join('\n')
}

/** Addresses compare without regard to checksum case. */
export const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
