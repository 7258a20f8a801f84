import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { createQuorateNode, type Libp2p, loadOrCreatePrivateKey } from '@quorate/net'
import { type CoordinatorInfo, InvalidOptionError, type JobSpec } from '@quorate/protocol'
import type { FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import { AgentHub } from './agent-hub.ts'
import { COORDINATOR_DEFAULTS } from './constants.ts'
import { createHttpApi } from './http.ts'
import { Scheduler } from './scheduler.ts'

export const COORDINATOR_VERSION = '0.1.0'

export interface CoordinatorOptions {
  /** Where the coordinator keeps its identity (and, with a durable backend, its state). */
  dataDir: string
  /** @defaultValue '127.0.0.1' */
  httpHost?: string
  /** 0 picks a free port. @defaultValue 7700 */
  httpPort?: number
  /** libp2p listen multiaddrs. @defaultValue ['/ip4/127.0.0.1/tcp/0'] */
  p2pListen?: string[]
  /** @defaultValue 128 MiB */
  bodyLimitBytes?: number
  /** @defaultValue 2000 */
  heartbeatMs?: number
  /** @defaultValue 5000 */
  leaseGraceMs?: number
  /** @defaultValue 6 */
  maxAttemptsPerSlot?: number
  /** Raise for devnets where many agents dial from one host. @defaultValue 1000 */
  inboundConnectionThreshold?: number
  /** Refuse modules at submission for a reason (e.g. unsupported imports). */
  inspectModule?: (bytes: Uint8Array, spec: JobSpec) => string | undefined
  logger?: Logger
}

export interface Coordinator {
  start(): Promise<void>
  stop(): Promise<void>
  readonly scheduler: Scheduler
  /** Base URL of the HTTP API, once started. */
  readonly httpUrl: string
  /** Multiaddrs agents dial, once started. */
  readonly multiaddrs: string[]
  readonly peerId: string
}

/**
 * A Quorate coordinator: HTTP API for submitters, the task protocol for
 * agents, and the scheduler between them.
 *
 * @example
 * ```ts
 * const coordinator = createCoordinator({ dataDir: '.quorate/coordinator', httpPort: 0 })
 * await coordinator.start()
 * console.log(coordinator.httpUrl, coordinator.multiaddrs)
 * ```
 */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  validate(options)
  const logger = options.logger ?? pino({ name: 'quorate:coordinator' })
  const heartbeatMs = options.heartbeatMs ?? COORDINATOR_DEFAULTS.heartbeatMs
  const schedulerOptions: ConstructorParameters<typeof Scheduler>[0] = {}
  if (options.leaseGraceMs !== undefined) schedulerOptions.leaseGraceMs = options.leaseGraceMs
  if (options.maxAttemptsPerSlot !== undefined) schedulerOptions.maxAttemptsPerSlot = options.maxAttemptsPerSlot
  const scheduler = new Scheduler(schedulerOptions)
  scheduler.setMaxListeners(0)
  const hub = new AgentHub(
    { scheduler, logger: logger.child({ component: 'agent-hub' }) },
    { heartbeatMs, missedHeartbeats: COORDINATOR_DEFAULTS.missedHeartbeats },
  )
  let node: Libp2p | undefined
  let http: FastifyInstance | undefined
  let sweeper: NodeJS.Timeout | undefined
  let httpUrl = ''

  const info = (): CoordinatorInfo => ({
    peerId: node?.peerId.toString() ?? '',
    multiaddrs: node?.getMultiaddrs().map((m) => m.toString()) ?? [],
    version: COORDINATOR_VERSION,
    backend: 'memory',
  })

  return {
    scheduler,
    get httpUrl() {
      return httpUrl
    },
    get multiaddrs() {
      return info().multiaddrs
    },
    get peerId() {
      return info().peerId
    },
    async start() {
      await mkdir(options.dataDir, { recursive: true })
      // Start order: identity, peer network, scheduler timers, then the API that feeds it.
      node = await createQuorateNode({
        privateKey: await loadOrCreatePrivateKey(options.dataDir),
        listen: options.p2pListen ?? [...COORDINATOR_DEFAULTS.p2pListen],
        inboundConnectionThreshold: options.inboundConnectionThreshold ?? 1000,
      })
      await node.start()
      await hub.start(node)
      sweeper = setInterval(() => scheduler.sweep(), COORDINATOR_DEFAULTS.sweepIntervalMs)
      sweeper.unref()
      const httpOptions: Parameters<typeof createHttpApi>[1] = {
        bodyLimitBytes: options.bodyLimitBytes ?? COORDINATOR_DEFAULTS.bodyLimitBytes,
        info,
      }
      if (options.inspectModule !== undefined) httpOptions.inspectModule = options.inspectModule
      http = createHttpApi({ scheduler, logger: logger.child({ component: 'http' }) }, httpOptions)
      await http.listen({
        host: options.httpHost ?? COORDINATOR_DEFAULTS.httpHost,
        port: options.httpPort ?? COORDINATOR_DEFAULTS.httpPort,
      })
      const address = http.server.address() as AddressInfo
      httpUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      logger.info({ httpUrl, multiaddrs: info().multiaddrs }, 'coordinator started')
    },
    async stop() {
      // Reverse order: stop taking requests, then let go of agents, then the network.
      await http?.close()
      if (sweeper !== undefined) clearInterval(sweeper)
      await hub.stop()
      await node?.stop()
    },
  }
}

function validate(options: CoordinatorOptions): void {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new InvalidOptionError('dataDir', 'must be a non-empty path', options.dataDir)
  }
  const ints: Array<[string, number | undefined, number]> = [
    ['httpPort', options.httpPort, 0],
    ['bodyLimitBytes', options.bodyLimitBytes, 1024],
    ['heartbeatMs', options.heartbeatMs, 50],
    ['leaseGraceMs', options.leaseGraceMs, 0],
    ['maxAttemptsPerSlot', options.maxAttemptsPerSlot, 1],
  ]
  for (const [name, value, min] of ints) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw new InvalidOptionError(name, `must be an integer ≥ ${min}`, value)
    }
  }
}
