// `quorate agent start --stake`, run as the real binary against a real anvil
// and a coordinator that pays on chain: the first start registers the
// agent's PeerId with its operator key and stakes; a restart sends nothing;
// a paying coordinator admits the agent; bad settings fail clearly. And
// `submit`/`estimate` with a wallet, priced from the coordinator's published terms.
import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentPeerId } from '@quorate/agent'
import { getProvider, getProviderTopology, registerCoordinator, registerProvider } from '@quorate/chain'
import { type Coordinator, createCoordinator } from '@quorate/coordinator'
import { Wallet } from 'ethers'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_STAKE, setupChain, type TestChain, TOKEN } from '../chain/setup.ts'
import { outputOf, spawnQuorateBin } from '../helpers/quorate-bin.ts'
import { until } from '../helpers/until.ts'

const primesWasm = createRequire(import.meta.url).resolve('@quorate/example-primes/primes.wasm')
let chain: TestChain
let coordinator: Coordinator
let dir: string
const children: ChildProcess[] = []

function quorate(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawnQuorateBin(args, { QUORATE_RPC_URL: '', QUORATE_REGISTRY_ADDRESS: '', QUORATE_STAKE: '', ...env })
  children.push(child)
  return child
}

/** The primes job on the test's coordinator, one shard per input file, one replica each. */
const jobArgs = (inputs: string[]) => [
  '-c',
  coordinator.httpUrl,
  '--wasm',
  primesWasm,
  ...inputs.flatMap((input) => ['--input', input]),
  '--redundancy',
  '1',
  '--quorum',
  '1',
]

/** Start an agent and wait for its ready line (or its exit). */
/** Agent arguments that stake 100 tokens on the test chain, with `registry` as the Registry address. */
function stakeOf100(dataDir: string, registry: string): string[] {
  return ['--data-dir', dataDir, '--stake', '100tokens', '--rpc', chain.anvil.rpcUrl, '--registry', registry]
}

async function startAgent(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = quorate(
    ['agent', 'start', '--coordinator', coordinator.multiaddrs[0] as string, '--json-ready', '--threads', '1', ...args],
    env,
  )
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const outcome = await new Promise<{ ready?: Record<string, unknown>; code?: number | null }>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (line !== undefined) resolve({ ready: JSON.parse(line) as Record<string, unknown> })
    })
    child.once('exit', (code) => resolve({ code }))
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  return { ...outcome, stderr: () => stderr, stop }
}

const nonce = (address: string) => chain.reader.provider.getTransactionCount(address, 'latest')

beforeAll(async () => {
  chain = await setupChain({ providers: 2, register: false })
  dir = await mkdtemp(join(tmpdir(), 'quorate-agent-stake-'))
  coordinator = createCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpPort: 0,
    heartbeatMs: 500,
    logger: pino({ level: 'silent' }),
    chain: {
      rpcUrl: chain.anvil.rpcUrl,
      addresses: chain.addresses,
      privateKey: chain.coordinator.privateKey,
      minStake: MIN_STAKE,
      pollingIntervalMs: 20,
    },
  })
  await coordinator.start()
  await registerCoordinator(chain.as(chain.coordinator), { peerId: coordinator.peerId })
})

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await coordinator?.stop()
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

async function keyFile(name: string, privateKey: string): Promise<string> {
  await mkdir(join(dir, name), { recursive: true })
  const file = join(dir, name, 'operator.key')
  await writeFile(file, `${privateKey}\n`, { mode: 0o600 })
  return file
}

describe('quorate agent start --stake', () => {
  it('registers and stakes on the first start, is admitted, and sends nothing on a restart', async () => {
    const provider = chain.providers[0]
    if (provider === undefined) throw new Error('no provider account')
    const dataDir = join(dir, 'agent-1')
    await keyFile('agent-1', provider.privateKey)
    const peerId = await agentPeerId(dataDir)
    const args = ['--data-dir', dataDir, '--stake', '150tokens', '--rpc', chain.anvil.rpcUrl]
    const env = { QUORATE_REGISTRY_ADDRESS: chain.addresses.registry } // env counts like the flag

    const before = await nonce(provider.address)
    const first = await startAgent(args, env)
    expect(first.ready, first.stderr()).toBeDefined()
    expect(first.ready).toMatchObject({
      event: 'ready',
      peerId,
      provider: { account: provider.address, stake: (150n * TOKEN).toString(), registered: true },
    })
    const txs = (first.ready as { provider: { txs: string[] } }).provider.txs
    expect(txs).toHaveLength(2) // approve + registerProvider
    expect(await nonce(provider.address)).toBe(before + 2)
    const registered = await getProvider(chain.reader, { provider: provider.address })
    expect(registered).toMatchObject({ registered: true, peerId, operator: provider.address, stake: 150n * TOKEN })
    // The paying coordinator admitted it: it is online there.
    const online = (await (await fetch(`${coordinator.httpUrl}/v1/providers`)).json()) as {
      items: Array<{ peerId: string; online: boolean; stake?: string }>
    }
    expect(online.items.find((p) => p.peerId === peerId)).toMatchObject({
      online: true,
      stake: (150n * TOKEN).toString(),
    })
    await first.stop()

    const second = await startAgent(args, env)
    expect(second.ready).toMatchObject({ peerId, provider: { registered: false, txs: [] } })
    expect(second.stderr()).toContain('already registered with stake')
    expect(await nonce(provider.address)).toBe(before + 2)
    await second.stop()

    // A higher amount tops up by the difference only.
    const third = await startAgent(
      ['--data-dir', dataDir, '--stake', (200n * TOKEN).toString(), '--rpc', chain.anvil.rpcUrl],
      env,
    )
    expect(third.ready).toMatchObject({ provider: { registered: false, stake: (200n * TOKEN).toString() } })
    expect((await getProvider(chain.reader, { provider: provider.address })).stake).toBe(200n * TOKEN)
    await third.stop()

    // --region with --stake records it in the Registry once; the paying coordinator shows that region.
    const placed = [...args, '--region', 'eu-west', '--zone', 'eu-west-1a']
    const fourth = await startAgent(placed, env)
    expect((fourth.ready as { provider: { txs: string[] } }).provider.txs).toHaveLength(1)
    expect(await getProviderTopology(chain.reader, { provider: provider.address })).toMatchObject({
      region: 'eu-west',
      zone: 'eu-west-1a',
    })
    const row = await until(
      async () => {
        const page = (await (await fetch(`${coordinator.httpUrl}/v1/providers`)).json()) as {
          items: Array<{ peerId: string; online: boolean; region?: string; zone?: string }>
        }
        return page.items.find((p) => p.peerId === peerId && p.online)
      },
      { what: 'the provider online again' },
    )
    expect(row).toMatchObject({ region: 'eu-west', zone: 'eu-west-1a' })
    await fourth.stop()
    const fifth = await startAgent(placed, env)
    expect(fifth.ready).toMatchObject({ provider: { txs: [] } })
    await fifth.stop()
  })

  it('submit --key-file pays for the job on the paid coordinator, once, shown in tokens', async () => {
    const provider = chain.providers[0]
    if (provider === undefined) throw new Error('no provider account')
    const agent = await startAgent(['--data-dir', join(dir, 'agent-1')]) // staked by the test above
    expect(agent.ready, agent.stderr()).toBeDefined()
    const key = await keyFile('submitter', chain.submitter.privateKey)
    const input = join(dir, 'range.txt')
    await writeFile(input, '1 1000')
    const submit = async (extra: string[]) => {
      const child = quorate(['submit', ...jobArgs([input]), ...extra], {
        QUORATE_WALLET_KEY_FILE: key,
        QUORATE_RPC_URL: chain.anvil.rpcUrl,
      })
      return outputOf(child)
    }
    const before = await nonce(chain.submitter.address)
    // No terminal to ask, no --yes, no cap: refused before anything is sent.
    const unapproved = await submit([])
    expect(unapproved.code, unapproved.stderr).toBe(2)
    expect(unapproved.stderr).toContain(
      'error: this job would escrow 0.01 QTT, and there is no terminal to confirm it\nhint: add --yes to pay it, or --max-budget AMOUNT',
    )
    expect(await nonce(chain.submitter.address)).toBe(before)
    // One shard × one replica × 0.01 token: within a cap of 0.01 tokens.
    const first = await submit(['--max-budget', '0.01tokens'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toMatch(/paid: escrow 0x[0-9a-f]{64} funded with 0\.01 QTT \(tx 0x/)
    expect(await nonce(chain.submitter.address)).toBe(before + 2)
    const again = await submit(['--yes'])
    expect(again.code, again.stderr).toBe(0)
    expect(await nonce(chain.submitter.address)).toBe(before + 2)

    // Settled: the job's cost (payouts plus fee) in the list and the job view, in tokens; base units in --json.
    const id = /submitted job ([0-9a-f]{64})/.exec(first.stderr)?.[1] as string
    const listed = await until(
      async () => {
        const { stdout } = await outputOf(quorate(['list', '--json', '-c', coordinator.httpUrl]))
        const page = JSON.parse(stdout) as { items: Array<{ id: string; cost?: string }> }
        return page.items.find((job) => job.id === id && job.cost !== undefined)
      },
      { what: 'the paid job settled, with its cost in the job list' },
    )
    expect(listed.cost).toBe((10n ** 16n).toString())
    const table = await outputOf(quorate(['list', '-c', coordinator.httpUrl]))
    expect(table.stdout).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+completed\\s+1/1\\s+0\\.01 QTT\\s`, 'm'))
    const status = await outputOf(quorate(['status', id.slice(0, 10), '-c', coordinator.httpUrl]))
    expect(status.stdout).toContain('  cost: 0.01 QTT (paid to providers, with the fee)')
    const providers = await outputOf(quorate(['providers', '-c', coordinator.httpUrl]))
    expect(providers.stdout).toMatch(/ {2}stake \d+ QTT {2}earned 0\.01 QTT$/m)
    await agent.stop()
  })

  it('--max-budget refuses a job that would escrow more, exits 2 and sends nothing', async () => {
    const key = await keyFile('capped', chain.others[1]?.privateKey as string)
    const input = join(dir, 'range.txt')
    await writeFile(input, '1 1000')
    const before = await nonce(chain.others[1]?.address as string)
    // Two shards at 0.01 token each: 0.02 tokens, over a cap of 0.015 (and over the same cap in base units).
    for (const cap of ['0.015tokens', (15n * 10n ** 15n).toString()]) {
      const child = quorate(['submit', ...jobArgs([input, input]), '--max-budget', cap, '--yes'], {
        QUORATE_WALLET_KEY_FILE: key,
        QUORATE_RPC_URL: chain.anvil.rpcUrl,
      })
      const { code, stderr } = await outputOf(child)
      expect(code, stderr).toBe(2)
      expect(stderr).toContain(
        'error: this job would escrow 0.02 QTT, more than --max-budget 0.015 QTT\nhint: raise --max-budget',
      )
    }
    expect(await nonce(chain.others[1]?.address as string)).toBe(before)
  })

  it('estimate prices the job from the terms the coordinator publishes, checked on chain with --key-file', async () => {
    const input = join(dir, 'range.txt')
    await writeFile(input, '1 1000')
    const key = await keyFile('estimator', chain.others[0]?.privateKey as string)
    const estimate = async (env: NodeJS.ProcessEnv, json: boolean) => {
      const child = quorate(['estimate', ...(json ? ['--json'] : []), ...jobArgs([input, input])], env)
      return (await outputOf(child)).stdout
    }
    // The coordinator's default price (0.01 token per replica) and no fee: 2 shards × 1 replica.
    const budget = (2n * 10n ** 16n).toString()
    const checked = JSON.parse(
      await estimate({ QUORATE_WALLET_KEY_FILE: key, QUORATE_RPC_URL: chain.anvil.rpcUrl }, true),
    ) as { payment: Record<string, unknown> & { quote: Record<string, unknown>; gas?: Record<string, unknown> } }
    expect(checked.payment).toMatchObject({
      required: true,
      verified: true,
      chainId: chain.anvil.chainId,
      escrow: chain.addresses.escrow,
      coordinator: chain.coordinator.address,
      quote: { budget, pricePerReplica: (10n ** 16n).toString(), fee: '0', expected: budget },
      toFund: budget,
    })
    expect(Number(checked.payment.gas?.totalGas)).toBeGreaterThan(0)
    // Without a wallet the price is still there, said to be the coordinator's word.
    const unchecked = await estimate({ QUORATE_WALLET_KEY_FILE: '' }, false)
    expect(unchecked).toContain(`price: escrow 0.02 QTT on chain ${chain.anvil.chainId}`)
    expect(unchecked).toContain('(0.01 QTT per majority replica + fee 0 QTT; 0.02 QTT if every shard agrees at once')
    expect(unchecked).toContain('terms: as the coordinator publishes them, not checked on chain')
    expect(await nonce(chain.others[0]?.address as string)).toBe(0)
  })

  it('names a wrong Registry address and exits 2 without sending anything', async () => {
    const provider = chain.providers[1]
    if (provider === undefined) throw new Error('no provider account')
    const dataDir = join(dir, 'agent-2')
    await keyFile('agent-2', provider.privateKey)
    const wrong = chain.others[0]?.address as string // an account, not a contract
    const run = await startAgent(stakeOf100(dataDir, wrong))
    expect(run.code).toBe(2)
    expect(run.stderr()).toContain(
      `error: --registry ${wrong}: no contract at registry ${wrong} on chain ${chain.anvil.chainId}`,
    )
    // The token's address is a contract, but not a Registry.
    const token = await startAgent(stakeOf100(dataDir, chain.addresses.token))
    expect(token.code).not.toBe(0)
    expect(await nonce(provider.address)).toBe(0)
  })

  it('exits 2 naming the refusal when the chain refuses what the user can fix (a PeerId already taken)', async () => {
    const owner = chain.others[1]
    const intruder = chain.providers[1]
    if (owner === undefined || intruder === undefined) throw new Error('no accounts')
    const dataDir = join(dir, 'agent-taken')
    await registerProvider(chain.as(owner), { peerId: await agentPeerId(dataDir), stake: MIN_STAKE })
    await keyFile('agent-taken', intruder.privateKey)
    const run = await startAgent(stakeOf100(dataDir, chain.addresses.registry))
    // A revert the user can act on (another data dir, or the owner's key): exit 2, not an internal error.
    expect(run.code).toBe(2)
    expect(run.stderr()).toContain(
      `error: registerProvider failed: the PeerId is already registered to ${owner.address}`,
    )
  })

  it('says which account lacks which tokens', async () => {
    const poor = Wallet.createRandom()
    const dataDir = join(dir, 'agent-poor')
    await keyFile('agent-poor', poor.privateKey)
    const run = await startAgent(stakeOf100(dataDir, chain.addresses.registry))
    // A balance the user can top up: a payment problem, exit 2, not an internal error.
    expect(run.code).toBe(2)
    expect(run.stderr()).toContain(
      `error: wallet ${poor.address} holds 0 of token ${chain.addresses.token}, but staking needs ${100n * TOKEN}`,
    )
  })
})
