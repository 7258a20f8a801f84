// Floors for the blob bench, measured in the same run as the job: what the bytes cost on the path
// they take before any Quorate code touches them. One libp2p stream between two processes on
// 127.0.0.1 with the project's node (TCP, Noise, Yamux: what every blob chunk crosses), and sha256
// in this process (what every chunk and every blob is checked with). Like the latency floor, they
// say how much of the gap to a kernel copy is the transport and the hash themselves.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createQuorateNode, loadOrCreatePrivateKey, multiaddr } from '@quorate/net'
import { readJsonLines } from '../helpers/json-lines.ts'

const FLOOR_PROTOCOL = '/quorate/bench-floor/1.0.0'
const PEER = fileURLToPath(new URL('./stream-floor-peer.ts', import.meta.url))
const MiB = 1024 * 1024

export interface StreamFloor {
  /** Bytes ÷ seconds from the request to the last byte received. */
  mibPerSecond: number
  /** CPU time per MiB moved in the sending process and in the receiving one, in µs. */
  senderCpuUsPerMiB: number
  receiverCpuUsPerMiB: number
}

/**
 * Sends `file` once over one libp2p stream from a child process to this one, best of `runs`
 * (the connection is set up before the clock starts: only the bytes are timed).
 */
export async function libp2pStreamFloor(file: string, dir: string, runs = 2): Promise<StreamFloor> {
  const child = spawn(
    process.execPath,
    // This process's flags too: run with --cpu-prof, both halves write a profile.
    [...process.execArgv, PEER, JSON.stringify({ file, dataDir: join(dir, 'floor-peer') })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  readJsonLines(child.stdout, (event) => {
    events.push(event)
    for (const wake of waiters.splice(0)) wake()
  })
  const next = async (event: string, after: number): Promise<Record<string, unknown>> => {
    for (;;) {
      const found = events.slice(after).find((e) => e.event === event)
      if (found !== undefined) return found
      if (child.exitCode !== null) throw new Error(`the floor peer exited (${child.exitCode}) before '${event}'`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(join(dir, 'floor-self')) })
  await node.start()
  try {
    const ready = await next('ready', 0)
    const addrs = (ready.addrs as string[]).map((a) =>
      multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${ready.peerId as string}`),
    )
    // The node's dial gives up after a few seconds: on a loaded machine the first try may not finish.
    for (let attempt = 1; ; attempt++) {
      try {
        await node.dial(addrs)
        break
      } catch (err) {
        if (attempt === 5) throw err
      }
    }
    let best: StreamFloor | undefined
    for (let run = 0; run < runs; run++) {
      const seen = events.length
      const cpu = process.cpuUsage()
      const started = performance.now()
      const stream = await node.dialProtocol(addrs, FLOOR_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
      let received = 0
      const done = new Promise<void>((resolve, reject) => {
        stream.addEventListener('message', (evt) => {
          received += evt.data.byteLength
        })
        stream.addEventListener('remoteCloseWrite', () => resolve())
        stream.addEventListener('close', (evt) => (evt.error === undefined ? resolve() : reject(evt.error)))
      })
      stream.send(new Uint8Array([1]))
      await done
      const seconds = (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      const sent = await next('sent', seen)
      await stream.close()
      if (sent.bytes !== received) throw new Error(`the floor peer sent ${sent.bytes} bytes, ${received} arrived`)
      const mib = received / MiB
      const run: StreamFloor = {
        mibPerSecond: mib / seconds,
        senderCpuUsPerMiB: (sent.cpuUs as number) / mib,
        receiverCpuUsPerMiB: (used.user + used.system) / mib,
      }
      if (best === undefined || run.mibPerSecond > best.mibPerSecond) best = run
    }
    return best as StreamFloor
  } finally {
    await node.stop()
    child.kill('SIGTERM')
  }
}

/** sha256 over `file`'s bytes (held in memory) in 1 MiB pieces, as a blob chunk is hashed: MiB/s, best of `runs`. */
export async function sha256Floor(file: string, runs = 2): Promise<number> {
  const bytes = await readFile(file)
  let best = 0
  for (let run = 0; run < runs; run++) {
    const started = performance.now()
    for (let at = 0; at < bytes.byteLength; at += MiB)
      createHash('sha256')
        .update(bytes.subarray(at, at + MiB))
        .digest()
    best = Math.max(best, bytes.byteLength / MiB / ((performance.now() - started) / 1000))
  }
  return best
}
