// The client's wallet: a paid coordinator's published terms, checked on the
// wallet's own chain, priced and paid. Internal; the client and `estimate`
// use it, the public types are re-exported.
import type {
  ChainClient,
  ChainClientOptions,
  EstimateFundJobReturnType,
  FundJobParameters,
  QuorateAddresses,
} from '@quorate/chain'
import {
  type CoordinatorInfo,
  type CoordinatorPaymentTerms,
  ErrorCode,
  InvalidOptionError,
  isQuorateError,
  type JobSpec,
  type JobSpecJson,
  jobIdOf,
  parseJobSpec,
  type SubmitJobResponse,
  sha256Hex,
} from '@quorate/protocol'
import { InsufficientBalanceError, PaymentError } from './errors.ts'

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

/** Most escrows the SDK opens for one job at one coordinator before giving up (each needs the last to be unusable). */
const MAX_FUNDINGS = 8
/** An escrow with less time left than this is not reused, whatever the coordinator's minimum: the job needs time to run. */
const MIN_SECONDS_LEFT = 600
/** Escrow lifetime after the job's own deadline: room for the coordinator to settle. */
const SETTLE_ROOM_SECONDS = 600
/** Escrow lifetime for a job without a deadline: the coordinator's default job deadline (1 h) plus settle room. */
const DEFAULT_ESCROW_SECONDS = 3600 + SETTLE_ROOM_SECONDS

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
function termsKey(terms: PaymentTerms): string {
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

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
const isPaymentRequired = (err: unknown) => isQuorateError(err) && err.code === ErrorCode.PAYMENT_REQUIRED

/**
 * Prices and pays for jobs on paid coordinators. Reads the coordinator's
 * published terms once per client (again after a 402, in case it restarted
 * with other ones), checks them on the client's own chain before any
 * transaction, and holds that chain connection (opened on first use).
 */
export class Payer {
  readonly #chainOptions: PayerChainOptions | undefined
  readonly #wallet: WalletOptions | undefined
  readonly #pins: { registry?: string; escrow?: string }
  readonly #http: PaymentHttp
  #connection: Promise<ChainClient> | undefined
  #published: Promise<PaymentTerms | undefined> | undefined
  /** Terms checked on chain, by {@link termsKey}: a coordinator's terms are checked once. */
  readonly #checked = new Map<string, Promise<PaymentTerms>>()
  /** The last terms that passed the check: the contracts signatures are checked against. */
  #terms: PaymentTerms | undefined
  #addresses: QuorateAddresses | undefined

  constructor(http: PaymentHttp, chain?: PayerChainOptions) {
    this.#http = http
    this.#chainOptions = chain
    this.#wallet = chain?.wallet
    this.#pins = {
      ...(chain?.registry === undefined ? {} : { registry: chain.registry }),
      ...(chain?.escrow === undefined ? {} : { escrow: chain.escrow }),
    }
  }

  get hasWallet(): boolean {
    return this.#wallet !== undefined
  }

  /** Whether a signature check on the wallet's chain is possible: it has a Registry to trust, or has checked a coordinator's. */
  get canVerify(): boolean {
    return this.hasWallet && (this.trustsRegistry || this.#terms !== undefined)
  }

  /** Whether the client names a Registry (or Escrow) of its own. */
  get trustsRegistry(): boolean {
    return this.#pins.registry !== undefined || this.#pins.escrow !== undefined
  }

  /**
   * The coordinator's published terms, undefined for a free coordinator.
   * Read once; `refresh` reads them again (after a 402: the coordinator may
   * have restarted with other terms).
   */
  terms(options: { refresh?: boolean } = {}): Promise<PaymentTerms | undefined> {
    if (this.#published === undefined || options.refresh === true) {
      const reading = this.#http
        .info()
        .then((info) => (info.payment === undefined ? undefined : parsePaymentTerms(info.payment)))
      this.#published = reading
      // A failed read is retried by the next call.
      reading.catch(() => {
        if (this.#published === reading) this.#published = undefined
      })
    }
    return this.#published
  }

  /**
   * Check published terms on the client's own chain, before anything is
   * sent: the RPC endpoint is on the terms' chain; the Escrow is the one
   * bound to the terms' Registry, and the token the one bound to both; they
   * are the Registry (or Escrow) the client trusts, if it names one; and the
   * coordinator's account is registered there (the Escrow refuses to fund
   * an unregistered one, and would do so only after the approval was sent).
   * A coordinator that lies about any of it cannot make the wallet pay
   * another contract.
   *
   * @throws {PaymentError} problem `chain`, `contracts` or `coordinator`.
   */
  verify(terms: PaymentTerms): Promise<PaymentTerms> {
    const key = termsKey(terms)
    let checking = this.#checked.get(key)
    if (checking === undefined) {
      checking = this.#verify(terms)
      this.#checked.set(key, checking)
      // A transient failure (the RPC endpoint down) is retried by the next call; a lie is refused every time anyway.
      checking.catch(() => {
        if (this.#checked.get(key) === checking) this.#checked.delete(key)
      })
    }
    return checking
  }

  /** The chain connection, signing with the wallet if there is one; addresses are placeholders until checked. */
  async connection(): Promise<ChainClient> {
    const options = this.#chainOptions
    if (options === undefined) {
      throw new InvalidOptionError(
        'wallet',
        'is needed to check payment terms on chain (or give the client chain settings)',
      )
    }
    if (this.#connection === undefined) {
      const connecting = (async () => {
        const { createChainClient } = await import('@quorate/chain')
        const placeholder = `0x${'0'.repeat(40)}`
        const account = this.#wallet?.privateKey ?? this.#wallet?.signer
        return createChainClient({
          rpcUrl: options.rpcUrl,
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

  /** A connection with the contracts' addresses: those of checked terms, else those of the trusted Registry. */
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

  /**
   * Submit a job through the wallet (no explicit payment in the spec). On a
   * paid coordinator: check its terms, then submit as is if it already has
   * the job on record (it needs no new payment), else fund or reuse this
   * wallet's escrow and submit naming it. On a free one: submit as is, and
   * pay only if it answers 402 after all.
   */
  async submit(
    spec: JobSpecJson,
    post: (spec: JobSpecJson) => Promise<SubmitJobResponse>,
  ): Promise<{ submitted: SubmitJobResponse; funding?: JobFunding }> {
    let terms = await this.terms()
    // Checked first even when no payment turns out to be needed: the checked contracts are what results are verified on.
    if (terms !== undefined) await this.verify(terms)
    if (terms === undefined || (await this.#onRecord(spec))) {
      try {
        return { submitted: await post(spec) }
      } catch (err) {
        if (!isPaymentRequired(err)) throw err
        // Free when its terms were read, or its record of the job has no payment: read them again.
        terms = await this.terms({ refresh: true })
        if (terms === undefined) {
          throw new PaymentError(
            'terms',
            `the coordinator asks for payment but publishes no payment terms: ${(err as Error).message}`,
            {
              cause: err,
              hint: 'fund the job yourself (@quorate/chain fundJob) and submit it with payment: { escrowJobId }',
            },
          )
        }
      }
    }
    for (let attempt = 0; ; attempt++) {
      const funding = await this.pay(spec, await this.verify(terms))
      try {
        return { submitted: await post({ ...spec, payment: { escrowJobId: funding.escrowJobId } }), funding }
      } catch (refusal) {
        if (!isPaymentRequired(refusal)) throw refusal
        // Refused although paid as published: retry once if the coordinator now publishes other terms.
        const fresh = attempt === 0 ? await this.terms({ refresh: true }) : undefined
        if (fresh !== undefined && termsKey(fresh) !== termsKey(terms)) {
          terms = fresh
          continue
        }
        throw new PaymentError(
          'refused',
          `the coordinator refused escrow ${funding.escrowJobId}: ${(refusal as Error).message}`,
          {
            cause: refusal,
            details: { escrowJobId: funding.escrowJobId, ...(isQuorateError(refusal) ? refusal.details : {}) },
          },
        )
      }
    }
  }

  /**
   * Fund the spec's escrow for these (checked) terms, or find the one this
   * wallet already funded. Escrow ids are derived from (wallet, spec hash,
   * coordinator, n): the first slot that is free is funded, one that is
   * funded with enough budget and time (or already settled) is reused.
   */
  async pay(spec: JobSpecJson, terms: PaymentTerms): Promise<JobFunding> {
    const wallet = this.#wallet
    if (wallet === undefined) throw new InvalidOptionError('wallet', 'is needed to pay for jobs')
    const quote = quoteJob(terms, spec)
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
    const funded = await chainStep(
      async () => chain.fundJob(client, fundingOf(specHash, parsed, terms, quote, slot)),
      address,
    )
    return {
      ...base,
      budget: quote.budget,
      maxFee: quote.fee,
      funded: !funded.alreadyFunded,
      ...(funded.approveHash === undefined ? {} : { approveHash: funded.approveHash }),
      ...(funded.result === undefined ? {} : { fundHash: funded.result.hash }),
    }
  }

  /** The payment section of an estimate; see {@link PaymentEstimate}. A free coordinator needs no chain at all. */
  async estimate(spec: JobSpecJson): Promise<PaymentEstimate> {
    const published = await this.terms()
    if (published === undefined) {
      return { required: false, price: 0n, reason: 'the coordinator publishes no payment terms: jobs run free' }
    }
    const quote = quoteJob(published, spec)
    const canCheck = this.#chainOptions !== undefined
    const terms = canCheck ? await this.verify(published) : published
    const estimate: PaymentEstimate = {
      required: true,
      chainId: Number(terms.chainId),
      token: terms.addresses.token,
      escrow: terms.addresses.escrow,
      coordinator: terms.coordinator,
      verified: canCheck,
      quote,
      toFund: quote.budget,
    }
    if (this.#wallet === undefined) return estimate
    const client = { ...(await this.connection()), addresses: terms.addresses }
    const parsed = parseJobSpec(spec)
    const specHash = jobIdOf(parsed)
    const chain = await import('@quorate/chain')
    estimate.balance = await chainStep(() => chain.getTokenBalance(client, client.account?.address as string))
    const slot = await this.#findSlot(client, terms, specHash, quote.budget)
    if (slot.existing !== undefined) {
      estimate.toFund = 0n
      estimate.existingEscrowJobId = slot.escrowJobId
      return estimate
    }
    try {
      const { method: _, ...gas } = await chain.estimateFundJob(client, fundingOf(specHash, parsed, terms, quote, slot))
      estimate.gas = gas
    } catch (err) {
      estimate.gasProblem = (err as Error).message
    }
    return estimate
  }

  async #verify(terms: PaymentTerms): Promise<PaymentTerms> {
    const client = await this.connection()
    const rpcUrl = this.#chainOptions?.rpcUrl
    if (terms.chainId !== client.chainId) {
      throw new PaymentError(
        'chain',
        `the coordinator settles on chain ${terms.chainId}, but the client's RPC endpoint ${rpcUrl} is chain ${client.chainId}`,
        { details: { coordinatorChainId: Number(terms.chainId), walletChainId: Number(client.chainId) } },
      )
    }
    const claimed = terms.addresses
    const trusted = await this.#trustedAddresses()
    if (
      trusted !== undefined &&
      (!sameAddress(trusted.registry, claimed.registry) || !sameAddress(trusted.escrow, claimed.escrow))
    ) {
      throw new PaymentError(
        'contracts',
        `the coordinator settles through Registry ${claimed.registry} and Escrow ${claimed.escrow}, not the Registry ${trusted.registry} (Escrow ${trusted.escrow}) this client trusts`,
        { details: { claimed: { ...claimed }, trusted: { ...trusted } } },
      )
    }
    // The Registry names its Escrow and token on chain; the coordinator's word counts only where they agree.
    const addresses = await this.#discover({ registry: claimed.registry, escrow: claimed.escrow })
    if (!sameAddress(addresses.token, claimed.token)) {
      throw new PaymentError(
        'contracts',
        `the coordinator names token ${claimed.token}, but its Registry ${addresses.registry} is bound to token ${addresses.token}`,
        { details: { claimed: { ...claimed }, onChain: { ...addresses } } },
      )
    }
    const { getCoordinator } = await import('@quorate/chain')
    const account = await chainStep(() => getCoordinator({ ...client, addresses }, { coordinator: terms.coordinator }))
    if (!account.registered) {
      throw new PaymentError(
        'coordinator',
        `the coordinator names account ${terms.coordinator}, which is not a coordinator in the Registry ${addresses.registry}: the Escrow would refuse the funding`,
        { details: { coordinator: terms.coordinator, registry: addresses.registry } },
      )
    }
    const checked = { ...terms, addresses }
    this.#terms = checked
    return checked
  }

  /** Whether the coordinator already has this job (job ids are derived from the content): then it needs no new payment. */
  async #onRecord(spec: JobSpecJson): Promise<boolean> {
    const id = jobIdOf(parseJobSpec(spec))
    try {
      await this.#http.request('GET', `/v1/jobs/${id}?view=summary`)
      return true
    } catch (err) {
      if (isQuorateError(err) && err.code === ErrorCode.JOB_NOT_FOUND) return false
      throw err
    }
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
    const leastLeft = BigInt(Math.max(MIN_SECONDS_LEFT, terms.minSecondsLeft))
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
        sameAddress(job.coordinator, terms.coordinator) &&
        (job.status === 'settled' ||
          (job.status === 'funded' && job.budget >= budget && job.deadline - now >= leastLeft))
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

/** The escrow a job is funded with (and its gas estimated for): the same fields both ways. */
function fundingOf(
  specHash: string,
  spec: JobSpec,
  terms: PaymentTerms,
  quote: JobQuote,
  slot: { now: bigint; salt: string },
): FundJobParameters {
  return {
    specHash,
    coordinator: terms.coordinator,
    budget: quote.budget,
    maxFee: quote.fee,
    deadline: slot.now + BigInt(escrowSeconds(spec.deadline, terms)),
    quorum: spec.quorum,
    salt: slot.salt,
  }
}

/**
 * Escrow lifetime: the job's own deadline (or the coordinator's default one)
 * plus room to settle, and never less than the coordinator wants left at
 * submission plus that room.
 */
function escrowSeconds(deadline: number | undefined, terms: PaymentTerms): number {
  const job =
    deadline === undefined
      ? DEFAULT_ESCROW_SECONDS
      : Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) + SETTLE_ROOM_SECONDS
  return Math.max(job, terms.minSecondsLeft + SETTLE_ROOM_SECONDS)
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
