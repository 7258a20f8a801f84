import { spawn } from 'node:child_process'
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ErrorCode, InvalidOptionError, QuorateError } from '@quorate/protocol'
import { getAddress } from 'ethers'
import { sleep } from './retry.ts'

export interface StartAnvilOptions {
  /** Port on 127.0.0.1. @defaultValue a free port picked by the OS */
  port?: number
  /** @defaultValue 31337 */
  chainId?: number
  /** Funded dev accounts to create. @defaultValue 10 */
  accounts?: number
  /** Ether per dev account. @defaultValue 10000 */
  balance?: number
  /** Seconds between blocks; omit to mine each transaction at once. */
  blockTime?: number
  /** Path of an anvil binary. @defaultValue $QUORATE_ANVIL_BIN, else the one `@foundry-rs/anvil` ships */
  binary?: string
  /** How long to wait for anvil to answer. @defaultValue 20000 */
  startTimeoutMs?: number
}

export interface DevAccount {
  address: string
  privateKey: string
}

export interface AnvilInstance {
  rpcUrl: string
  port: number
  chainId: number
  /** Funded accounts with their private keys (anvil's well-known dev mnemonic). */
  accounts: DevAccount[]
  pid: number | undefined
  /** Kills anvil and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
}

/**
 * The anvil binary: `$QUORATE_ANVIL_BIN`, else the one in the platform
 * package `@foundry-rs/anvil` depends on. Found directly, so it works even
 * when npm skipped `@foundry-rs/anvil`'s install script.
 */
export function findAnvilBinary(): string {
  const fromEnv = process.env.QUORATE_ANVIL_BIN
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (pkg === undefined) {
    throw new QuorateError(ErrorCode.INTERNAL, `anvil has no npm build for ${process.platform}-${process.arch}`, {
      hint: 'install foundry and set QUORATE_ANVIL_BIN to its anvil',
    })
  }
  const require = createRequire(import.meta.url)
  const bases = [() => require.resolve(`${pkg}/package.json`)]
  bases.push(() => createRequire(require.resolve('@foundry-rs/anvil/bin.mjs')).resolve(`${pkg}/package.json`))
  for (const base of bases) {
    let dir: string
    try {
      dir = dirname(base())
    } catch {
      continue
    }
    const bin = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
    if (!existsSync(bin)) continue
    try {
      accessSync(bin, constants.X_OK)
    } catch {
      chmodSync(bin, 0o755)
    }
    return bin
  }
  throw new QuorateError(ErrorCode.INTERNAL, `cannot find the anvil binary from ${pkg}`, {
    hint: 'run `npm install` (it installs @foundry-rs/anvil and its platform package) or set QUORATE_ANVIL_BIN',
  })
}

/** A port the OS says is free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()))
    })
  })
}

/**
 * Starts anvil on 127.0.0.1 and resolves once it answers JSON-RPC. Without
 * a `port` it picks a free one (and retries with another if it was taken in
 * between). The child is killed when this process exits.
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535)) {
    throw new InvalidOptionError('port', 'must be an integer in [1, 65535]', options.port)
  }
  const attempts = options.port === undefined ? 3 : 1
  let lastError: unknown
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await startOnce(options, options.port ?? (await freePort()))
    } catch (err) {
      lastError = err
    }
  }
  throw lastError
}

async function startOnce(options: StartAnvilOptions, port: number): Promise<AnvilInstance> {
  const chainId = options.chainId ?? 31337
  const dir = mkdtempSync(join(tmpdir(), 'quorate-anvil-'))
  const configOut = join(dir, 'anvil.json')
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--chain-id',
    String(chainId),
    '--accounts',
    String(options.accounts ?? 10),
    '--balance',
    String(options.balance ?? 10_000),
    '--config-out',
    configOut,
    '--silent',
  ]
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime))
  const child = spawn(options.binary ?? findAnvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  let exited = false
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      resolve()
    })
    child.once('error', () => {
      exited = true
      resolve()
    })
  })
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)

  const stop = async () => {
    process.removeListener('exit', killOnExit)
    if (!exited) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exitPromise
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }

  const rpcUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000)
  try {
    for (;;) {
      if (exited) throw new Error(`anvil exited during startup: ${stderr.trim() || 'no output'}`)
      if (existsSync(configOut) && (await answers(rpcUrl, chainId))) break
      if (Date.now() > deadline) throw new Error(`anvil did not answer on ${rpcUrl}: ${stderr.trim()}`)
      await sleep(50)
    }
    const config = JSON.parse(readFileSync(configOut, 'utf8')) as {
      available_accounts: string[]
      private_keys: string[]
    }
    const accounts = config.available_accounts.map((address, i) => ({
      address: getAddress(address),
      privateKey: config.private_keys[i] ?? '',
    }))
    return { rpcUrl, port, chainId, accounts, pid: child.pid, stop }
  } catch (err) {
    await stop()
    throw new QuorateError(ErrorCode.INTERNAL, `cannot start anvil on port ${port}`, { cause: err })
  }
}

async function answers(rpcUrl: string, chainId: number): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    })
    const body = (await res.json()) as { result?: string }
    return body.result !== undefined && BigInt(body.result) === BigInt(chainId)
  } catch {
    return false
  }
}

/** JSON-RPC helpers for anvil's test methods, used by tests and devnet. */
export const anvilRpc = {
  /** Moves the chain's clock forward and mines a block, so the next block's timestamp is later. */
  async increaseTime(rpcUrl: string, seconds: number): Promise<void> {
    await rpc(rpcUrl, 'evm_increaseTime', [seconds])
    await rpc(rpcUrl, 'evm_mine', [])
  },
  async mine(rpcUrl: string): Promise<void> {
    await rpc(rpcUrl, 'evm_mine', [])
  },
  async snapshot(rpcUrl: string): Promise<string> {
    return (await rpc(rpcUrl, 'evm_snapshot', [])) as string
  },
  async revert(rpcUrl: string, id: string): Promise<void> {
    await rpc(rpcUrl, 'evm_revert', [id])
  },
}

async function rpc(rpcUrl: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await res.json()) as { result?: unknown; error?: { message: string } }
  if (body.error !== undefined) throw new QuorateError(ErrorCode.INTERNAL, `${method} failed: ${body.error.message}`)
  return body.result
}
