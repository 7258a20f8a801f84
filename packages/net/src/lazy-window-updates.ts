import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** The fields of a Yamux stream the rule reads (private in its types, plain fields at run time). */
interface StreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

let installed = false

/**
 * Yamux streams (as `@chainsafe/libp2p-yamux` writes them) grant the sender more window after every
 * data frame they receive: one more encrypted frame, one more write and one more wake of the peer
 * for each message, however small. On the task protocol that doubles the frames of a job's path
 * (an agent answers each `assign` with a window update, the coordinator each `result`). Here an
 * open stream grants window only once half of it is used, as go-yamux does: the sender always has
 * at least half a window to send with, so throughput is not held back, and the grant still
 * arrives long before it runs dry. Streams opening, pausing or resuming behave as before.
 *
 * Installed once per process, on the class every stream of the muxer is made from.
 */
export function lazyWindowUpdates(): void {
  if (installed) return
  installed = true
  const eager = YamuxStream.prototype.sendWindowUpdate
  YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream): void {
    const window = this as unknown as StreamWindow
    if (window.state === StreamState.Established && window.recvWindowCapacity * 2 >= window.recvWindow) return
    eager.call(this)
  }
}
