/**
 * The sending half of the transport floor in the blob bench, as its own process: a node with the
 * project's libp2p stack (`createQuorateNode`: TCP, Noise, Yamux) that, on each stream of
 * `/quorate/bench-floor/1.0.0`, sends the bytes of `config.file` on that one stream as fast as the
 * stream drains, then closes it. Prints JSON lines: `ready` (peerId, addrs), then `sent` (bytes,
 * cpuUs: this process's CPU time from the request to the close) per stream.
 *
 * Run with Node ≥ 23 (type stripping): `node stream-floor-peer.ts '{"file":…,"dataDir":…}'`.
 */
import { createReadStream } from 'node:fs'
import { createQuorateNode, loadOrCreatePrivateKey } from '@quorate/net'

// The same name as in transport-floor.ts (not imported: importing this file would run it).
const FLOOR_PROTOCOL = '/quorate/bench-floor/1.0.0'

export interface StreamFloorConfig {
  file: string
  dataDir: string
}

const config = JSON.parse(process.argv[2] as string) as StreamFloorConfig
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`)

const node = await createQuorateNode({ privateKey: await loadOrCreatePrivateKey(config.dataDir) })
await node.start()

await node.handle(FLOOR_PROTOCOL, (stream) => {
  // The dialer writes one byte to open the stream; the bytes follow at once.
  stream.addEventListener(
    'message',
    () => {
      void (async () => {
        const cpu = process.cpuUsage()
        let bytes = 0
        // 1 MiB reads: the size of a blob chunk, and where the coordinator's reads come from (page cache).
        for await (const piece of createReadStream(config.file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
          bytes += piece.byteLength
          if (!stream.send(piece)) await stream.onDrain()
        }
        await stream.close()
        const used = process.cpuUsage(cpu)
        emit({ event: 'sent', bytes, cpuUs: used.user + used.system })
      })()
    },
    { once: true },
  )
})

emit({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((m) => m.toString()) })
process.on('SIGTERM', () => void Promise.resolve(node.stop()).then(() => process.exit(0)))
