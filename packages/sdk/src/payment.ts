// The client's wallet: how a paid coordinator is found out, priced and paid.
// Internal; the client and `estimate` use it, the public types are re-exported.
import type { ChainClient, ChainClientOptions, EstimateFundJobReturnType, QuorateAddresses } from '@quorate/chain'
import {
  ErrorCode,
  InvalidOptionError,
  isQuorateError,
  type JobSpecJson,
  jobIdOf,
  parseJobSpec,
  sha256Hex,
} from '@quorate/protocol'
import { InsufficientBalanceError, PaymentError } from './errors.ts'

/** An ethers wallet (`new Wallet(key)`, `Wallet.fromPhrase(…)`): it signs the escrow transactions. */
export type WalletSigner = Exclude<ChainClientOptions['account'], string | undefined>

interface WalletCommon {
  /**
   * JSON-RPC endpoint of the chain the coordinator settles on. Use your own
   * (or one you trust): it is also what the SDK checks the coordinator's
   * claims against, and, when the client has no `chain` settings, what it
   * checks result signatures on.
   */
  rpcUrl: string
  /**
   * The Quorate Registry you trust on that chain. With it, the Escrow the
   * coordinator names must be the one bound to this Registry, and
   * `estimate` can tell whether a coordinator charges without submitting
   * anything. @defaultValue the Registry bound to the Escrow the coordinator names
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

/** What a paid coordinator asks for, as the SDK found out and checked on chain. */
export interface PaymentTerms {
  chainId: bigint
  addresses: QuorateAddresses
  /** The coordinator's account: the escrow must name it, and it alone can settle. */
  coordinator: string
}

/** A job's price at one coordinator. */
export interface JobQuote {
  /**
   * What the Escrow must hold for the job, in token base units: every
   * replica the job could need (shards × maxReplicas) at the price, plus
   * the fee. The coordinator's own figure (its 402 answer), to the wei.
   */
  budget: bigint
  /** Paid to each provider in a shard's majority; undefined if the coordinator's figures do not add up to price × replicas + fee. */
  pricePerReplica: bigint | undefined
  /** The coordinator's fee per job, and the `maxFee` the SDK escrows; undefined as above (then `maxFee` is 0). */
  fee: bigint | undefined
  /**
   * What the job costs if every shard's first results agree (shards ×
   * redundancy × price + fee); the rest of the budget is refunded.
   */
  expected: bigint | undefined
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
      /** The coordinator runs jobs for free: nothing to fund, no gas. */
      required: false
      price: 0n
      reason: string
    }
  | {
      /** Whether the coordinator charges could not be found out without submitting; `reason` says what would tell. */
      required: 'unknown'
      reason: string
    }
  | {
      required: true
      chainId: number
      token: string
      escrow: string
      coordinator: string
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
}

/** Most escrows the SDK opens for one job at one coordinator before giving up (each needs the last to be unusable). */
const MAX_FUNDINGS = 8
/** An escrow with less time left than this is not reused: the coordinator wants 120 s, and the job time to run. */
const MIN_SECONDS_LEFT = 600n
/** Escrow lifetime after the job's own deadline: room for the coordinator to settle. */
const SETTLE_ROOM_SECONDS = 600
/** Escrow lifetime for a job without a deadline: the coordinator's default job deadline (1 h) plus settle room. */
const DEFAULT_ESCROW_SECONDS = 3600 + SETTLE_ROOM_SECONDS

/** The 402 a paid coordinator answers an unpaid job with names its chain, Escrow and account. */
const TERMS_PATTERNS = {
  chainId: /on chain (\d+)/,
  escrow: /Escrow (0x[0-9a-fA-F]{40})/,
  coordinator: /coordinator (0x[0-9a-fA-F]{40})/,
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
 * Pays for jobs on paid coordinators, and prices them. Holds one chain
 * connection (opened on first use) and the terms once learned.
 */
export class Payer {
  readonly #rpcUrl: string
  readonly #wallet: WalletOptions | undefined
  readonly #pins: { registry?: string; escrow?: string }
  readonly #http: PaymentHttp
  #connection: Promise<ChainClient> | undefined
  #terms: PaymentTerms | undefined
  #addresses: QuorateAddresses | undefined

  constructor(
    http: PaymentHttp,
    options: { wallet?: WalletOptions; rpcUrl: string; registry?: string | undefined; escrow?: string | undefined },
  ) {
    this.#http = http
    this.#wallet = options.wallet
    this.#rpcUrl = options.rpcUrl
    this.#pins = {
      ...(options.registry === undefined ? {} : { registry: options.registry }),
      ...(options.escrow === undefined ? {} : { escrow: options.escrow }),
    }
  }

  get hasWallet(): boolean {
    return this.#wallet !== undefined
  }

  /** The chain connection, signing with the wallet if there is one; addresses are placeholders until learned. */
  async connection(): Promise<ChainClient> {
    if (this.#connection === undefined) {
      const connecting = (async () => {
        const { createChainClient } = await import('@quorate/chain')
        const placeholder = `0x${'0'.repeat(40)}`
        const account = this.#wallet?.privateKey ?? this.#wallet?.signer
        return createChainClient({
          rpcUrl: this.#rpcUrl,
          addresses: { token: placeholder, registry: placeholder, escrow: placeholder },
          ...(account === undefined ? {} : { account }),
          ...(this.#wallet?.pollingIntervalMs === undefined
            ? {}
            : { pollingIntervalMs: this.#wallet.pollingIntervalMs }),
        })
      })()
      this.#connection = connecting
      // A failed connection is retried by the next call.
      connecting.catch(() => {
        if (this.#connection === connecting) this.#connection = undefined
      })
    }
    return this.#connection
  }

  /** A connection with the contracts' addresses: the learned ones, else those of the trusted Registry. */
  async chain(): Promise<ChainClient | undefined> {
    const addresses = this.#terms?.addresses ?? (await this.#trustedAddresses())
    if (addresses === undefined) return undefined
    return { ...(await this.connection()), addresses }
  }

  close(): void {
    const open = this.#connection
    this.#connection = undefined
    void open?.then(
      async (c) => (await import('@quorate/chain')).destroyChainClient(c),
      () => {},
    )
  }

  /** Learn and check the terms from the 402 a paid coordinator answered an unpaid job with. */
  async termsFromRefusal(refusal: { message: string }): Promise<PaymentTerms> {
    const found = Object.fromEntries(
      Object.entries(TERMS_PATTERNS).map(([key, re]) => [key, re.exec(refusal.message)?.[1]]),
    ) as Record<keyof typeof TERMS_PATTERNS, string | undefined>
    if (found.chainId === undefined || found.escrow === undefined || found.coordinator === undefined) {
      throw new PaymentError('terms', `the coordinator wants payment but does not say where: "${refusal.message}"`, {
        hint: 'fund the job yourself (@quorate/chain fundJob) and submit it with payment: { escrowJobId }',
      })
    }
    const client = await this.connection()
    if (BigInt(found.chainId) !== client.chainId) {
      throw new PaymentError(
        'chain',
        `the coordinator settles on chain ${found.chainId}, but the wallet's RPC endpoint ${this.#rpcUrl} is chain ${client.chainId}`,
        { details: { coordinatorChainId: Number(found.chainId), walletChainId: Number(client.chainId) } },
      )
    }
    const addresses = await this.#discover({ escrow: found.escrow, ...this.#pins })
    this.#terms = { chainId: client.chainId, addresses, coordinator: found.coordinator }
    return this.#terms
  }

  /**
   * The terms of the coordinator with this PeerId, from the chain alone:
   * undefined when it is not registered (so it cannot be paid, and does not
   * charge). Needs a Registry the client trusts.
   */
  async termsFromRegistry(peerId: string): Promise<PaymentTerms | undefined> {
    if (this.#terms !== undefined) return this.#terms
    const addresses = await this.#trustedAddresses()
    if (addresses === undefined) return undefined
    const { findCoordinator } = await import('@quorate/chain')
    const client = { ...(await this.connection()), addresses }
    const { coordinator } = await chainStep(() => findCoordinator(client, { peerId }))
    if (coordinator === undefined) return undefined
    this.#terms = { chainId: client.chainId, addresses, coordinator }
    return this.#terms
  }

  /** Whether signatures can be checked on the wallet's chain: it has a Registry to trust, or has paid through one. */
  get canVerify(): boolean {
    return this.hasWallet && (this.trustsRegistry || this.#terms !== undefined)
  }

  /** Whether the client knows a Registry of its own (so it can tell a free coordinator from a paid one). */
  get trustsRegistry(): boolean {
    return this.#pins.registry !== undefined || this.#pins.escrow !== undefined
  }

  /**
   * The coordinator's price for this spec, asked without paying: a job
   * naming an escrow nobody funded is refused with the budget it needs (402),
   * and nothing is stored. A second, one-shard probe splits it into price
   * per replica and fee. Only for coordinators known to charge: a free one
   * would take the probe as a job.
   */
  async quote(spec: JobSpecJson): Promise<JobQuote> {
    const parsed = parseJobSpec(spec)
    const units = parsed.inputs.length * parsed.maxReplicas
    const budget = await this.#requiredBudget(spec)
    // budget = units × price + fee: a second point on the line gives both.
    const k = units === 1 ? 2 : 1
    const probe: JobSpecJson = {
      version: 1,
      name: 'quorate sdk: price probe',
      module: { wasm: spec.module.wasm },
      inputs: [''],
      redundancy: 1,
      quorum: 1,
      maxReplicas: k,
    }
    const other = await this.#requiredBudget(probe)
    const delta = budget - other
    const span = BigInt(units - k)
    let pricePerReplica: bigint | undefined
    let fee: bigint | undefined
    if (delta >= 0n && delta % span === 0n && budget - BigInt(units) * (delta / span) >= 0n) {
      pricePerReplica = delta / span
      fee = budget - BigInt(units) * pricePerReplica
    }
    const expected =
      pricePerReplica === undefined || fee === undefined
        ? undefined
        : BigInt(parsed.inputs.length * parsed.redundancy) * pricePerReplica + fee
    return { budget, pricePerReplica, fee, expected }
  }

  /**
   * Fund the spec's escrow for these terms, or find the one this wallet
   * already funded. Escrow ids are derived from (wallet, spec hash,
   * coordinator, n): the first slot that is free is funded, one that is
   * funded with enough budget and time (or already settled) is reused.
   */
  async pay(spec: JobSpecJson, terms: PaymentTerms): Promise<JobFunding> {
    const wallet = this.#wallet
    if (wallet === undefined) throw new InvalidOptionError('wallet', 'is needed to pay for jobs')
    const quote = await this.quote(spec)
    if (wallet.maxBudget !== undefined && quote.budget > wallet.maxBudget) {
      throw new PaymentError(
        'limit',
        `the coordinator asks ${quote.budget} base units for this job, over the wallet's maxBudget of ${wallet.maxBudget}`,
        { details: { budget: quote.budget.toString(), maxBudget: wallet.maxBudget.toString() } },
      )
    }
    const client = { ...(await this.connection()), addresses: terms.addresses }
    const parsed = parseJobSpec(spec)
    const specHash = jobIdOf(parsed)
    const slot = await this.#findSlot(client, terms, specHash, quote.budget)
    const maxFee = quote.fee ?? 0n
    const base = {
      escrowJobId: slot.escrowJobId,
      chainId: Number(terms.chainId),
      escrow: terms.addresses.escrow,
      coordinator: terms.coordinator,
    }
    if (slot.existing !== undefined) {
      return { ...base, budget: slot.existing.budget, maxFee: slot.existing.maxFee, funded: false }
    }
    const chain = await import('@quorate/chain')
    const address = client.account?.address as string
    const balance = await chainStep(() => chain.getTokenBalance(client, address))
    if (balance < quote.budget) {
      throw new InsufficientBalanceError({
        address,
        asset: 'token',
        token: terms.addresses.token,
        required: quote.budget,
        balance,
      })
    }
    const seconds =
      parsed.deadline === undefined
        ? DEFAULT_ESCROW_SECONDS
        : Math.max(0, Math.ceil((parsed.deadline - Date.now()) / 1000)) + SETTLE_ROOM_SECONDS
    const funded = await chainStep(
      async () =>
        chain.fundJob(client, {
          specHash,
          coordinator: terms.coordinator,
          budget: quote.budget,
          maxFee,
          deadline: slot.now + BigInt(seconds),
          quorum: parsed.quorum,
          salt: slot.salt,
        }),
      address,
    )
    return {
      ...base,
      budget: quote.budget,
      maxFee,
      funded: !funded.alreadyFunded,
      ...(funded.approveHash === undefined ? {} : { approveHash: funded.approveHash }),
      ...(funded.result === undefined ? {} : { fundHash: funded.result.hash }),
    }
  }

  /** The payment section of an estimate; see {@link PaymentEstimate}. */
  async estimate(spec: JobSpecJson, peerId: string): Promise<PaymentEstimate> {
    const terms = await this.termsFromRegistry(peerId)
    if (terms === undefined) {
      if (!this.trustsRegistry) {
        return {
          required: 'unknown',
          reason:
            'give the client a Registry (wallet.registryAddress or chain.registryAddress) to find out whether this coordinator charges',
        }
      }
      return {
        required: false,
        price: 0n,
        reason: 'the coordinator is not registered in the Registry, so it cannot be paid: jobs run free',
      }
    }
    const quote = await this.quote(spec)
    const estimate: PaymentEstimate = {
      required: true,
      chainId: Number(terms.chainId),
      token: terms.addresses.token,
      escrow: terms.addresses.escrow,
      coordinator: terms.coordinator,
      quote,
      toFund: quote.budget,
    }
    if (this.#wallet === undefined) return estimate
    const client = { ...(await this.connection()), addresses: terms.addresses }
    const specHash = jobIdOf(parseJobSpec(spec))
    const chain = await import('@quorate/chain')
    estimate.balance = await chainStep(() => chain.getTokenBalance(client, client.account?.address as string))
    const slot = await this.#findSlot(client, terms, specHash, quote.budget)
    if (slot.existing !== undefined) {
      estimate.toFund = 0n
      estimate.existingEscrowJobId = slot.escrowJobId
      return estimate
    }
    try {
      const { method: _, ...gas } = await chain.estimateFundJob(client, {
        specHash,
        coordinator: terms.coordinator,
        budget: quote.budget,
        maxFee: quote.fee ?? 0n,
        deadline: slot.now + BigInt(DEFAULT_ESCROW_SECONDS),
        quorum: parseJobSpec(spec).quorum,
        salt: slot.salt,
      })
      estimate.gas = gas
    } catch (err) {
      estimate.gasProblem = (err as Error).message
    }
    return estimate
  }

  async #requiredBudget(spec: JobSpecJson): Promise<bigint> {
    // Nobody funded a random id: the coordinator can only refuse it, naming the budget.
    const unfunded = `0x${Array.from(globalThis.crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('')}`
    try {
      await this.#http.request('POST', '/v1/jobs', { ...spec, payment: { escrowJobId: unfunded } })
    } catch (err) {
      const required = isQuorateError(err) ? err.details.requiredBudget : undefined
      if (isQuorateError(err) && err.code === ErrorCode.PAYMENT_REQUIRED && typeof required === 'string') {
        return BigInt(required)
      }
      throw err
    }
    throw new PaymentError('terms', 'the coordinator accepted a job naming an escrow nobody funded: it does not charge')
  }

  async #findSlot(
    client: ChainClient,
    terms: PaymentTerms,
    specHash: string,
    budget: bigint,
  ): Promise<{
    escrowJobId: string
    salt: string
    now: bigint
    existing?: { budget: bigint; maxFee: bigint }
  }> {
    const chain = await import('@quorate/chain')
    const submitter = client.account?.address as string
    const now = BigInt((await chainStep(() => client.provider.getBlock('latest')))?.timestamp ?? Date.now() / 1000)
    for (let n = 0; n < MAX_FUNDINGS; n++) {
      const salt = `0x${sha256Hex(`quorate:sdk:escrow-salt:v1\n${terms.coordinator.toLowerCase()}\n${n}`)}`
      const escrowJobId = chain.computeJobId({
        chainId: terms.chainId,
        escrow: terms.addresses.escrow,
        submitter,
        specHash: `0x${specHash}`,
        salt,
      })
      const job = await chainStep(() => chain.getJob(client, { jobId: escrowJobId }))
      if (job.status === 'none') return { escrowJobId, salt, now }
      const usable =
        job.coordinator.toLowerCase() === terms.coordinator.toLowerCase() &&
        (job.status === 'settled' ||
          (job.status === 'funded' && job.budget >= budget && job.deadline - now >= MIN_SECONDS_LEFT))
      if (usable) return { escrowJobId, salt, now, existing: { budget: job.budget, maxFee: job.maxFee } }
    }
    throw new PaymentError(
      'fundings',
      `this wallet already has ${MAX_FUNDINGS} escrows for job ${specHash.slice(0, 12)} at coordinator ${terms.coordinator}, none usable`,
      { hint: 'reclaim the expired ones (@quorate/chain reclaim), or submit with an explicit payment' },
    )
  }

  async #trustedAddresses(): Promise<QuorateAddresses | undefined> {
    if (this.#addresses !== undefined) return this.#addresses
    if (!this.trustsRegistry) return undefined
    this.#addresses = await this.#discover(this.#pins)
    return this.#addresses
  }

  async #discover(from: { registry?: string; escrow?: string }): Promise<QuorateAddresses> {
    const { discoverAddresses } = await import('@quorate/chain')
    const client = await this.connection()
    try {
      return await discoverAddresses(client, from)
    } catch (err) {
      const reason = (err as { reason?: string }).reason
      if (reason === 'AddressMismatch' || reason === 'NoContract') {
        throw new PaymentError('contracts', (err as Error).message.replace(/^discoverAddresses failed: /, ''), {
          cause: err,
          details: { ...from },
        })
      }
      throw err
    }
  }
}

/** Chain failures a wallet can fix become InsufficientBalanceError; the rest say which step failed. */
async function chainStep<T>(fn: () => Promise<T>, address = 'the wallet'): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isQuorateError(err) && (err.name === 'InsufficientBalanceError' || err.name === 'PaymentError')) throw err
    const reason = (err as { reason?: string }).reason
    if (reason === 'INSUFFICIENT_FUNDS' || reason === 'ERC20InsufficientBalance') {
      throw new InsufficientBalanceError(
        {
          address: String((err as { revertArgs?: { sender?: string } }).revertArgs?.sender ?? address),
          asset: reason === 'INSUFFICIENT_FUNDS' ? 'gas' : 'token',
        },
        { cause: err },
      )
    }
    if (reason !== undefined) {
      throw new PaymentError('chain-error', (err as Error).message, { cause: err, details: { reason } })
    }
    throw err
  }
}
