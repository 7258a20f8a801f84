// A libp2p peer in its own OS process that echoes every message on one stream, for the
// latency-floor part of the coordinator benchmark: `node echo-process.ts <data dir>`.
// Prints its multiaddr once listening.
import { createQuorateNode, loadOrCreatePrivateKey, MessageChannel } from '@quorate/net'
import type { AgentMessage } from '@quorate/protocol'

export const ECHO_PROTOCOL = '/quorate/bench-echo/1.0.0'

if (process.argv[2] !== undefined) {
  const node = await createQuorateNode({
    privateKey: await loadOrCreatePrivateKey(process.argv[2]),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  await node.start()
  await node.handle(ECHO_PROTOCOL, (stream) => {
    const channel = new MessageChannel<AgentMessage, AgentMessage>(stream)
    channel.onMessage((message) => channel.send(message))
  })
  process.stdout.write(`${node.getMultiaddrs()[0]?.toString()}\n`)
  process.on('SIGTERM', () => {
    void Promise.resolve(node.stop()).then(() => process.exit(0))
  })
}
