// The client's wallet: a paid coordinator's published terms, checked on the
// wallet's own chain, priced and paid. Internal; the client and `estimate`
// use it, the public types are re-exported from payment-terms.ts.
import type { ChainClient, QuorateAddresses } from '@quorate/chain'
import {
  ErrorCode,
  InvalidOptionError,
  isQuorateError,
  type JobSpecJson,
  jobIdOf,
  parseJobSpec,
  type SubmitJobResponse,
} from '@quorate/protocol'
import { InsufficientBalanceError, PaymentError } from './errors.ts'
import { chainStep, findEscrowSlot, fundingOf } from './escrow-slot.ts'
import {
  type JobFunding,
  type PayerChainOptions,
  type PaymentEstimate,
  type PaymentHttp,
  type PaymentTerms,
  parsePaymentTerms,
  quoteJob,
  termsKey,
  type WalletOptions,
} from './payment-terms.ts'
import { verifyTerms } from './verify-terms.ts'

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
    const slot = await findEscrowSlot(client, terms, specHash, quote.budget)
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
    const slot = await findEscrowSlot(client, terms, specHash, quote.budget)
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
    const context = {
      client: await this.connection(),
      rpcUrl: this.#chainOptions?.rpcUrl,
      trusted: () => this.#trustedAddresses(),
      discover: (from: { registry?: string; escrow?: string }) => this.#discover(from),
    }
    const checked = await verifyTerms(context, terms)
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
