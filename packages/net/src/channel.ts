import type { Stream } from '@libp2p/interface'
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeMessage,
  ErrorCode,
  encodeMessage,
  errorToWire,
  FrameDecoder,
  QuorateError,
  type TaskChannelMessage,
} from '@quorate/protocol'
import type { ByteBudget } from './budget.ts'

export interface MessageChannelOptions {
  /** Largest frame accepted from the peer; a bigger one closes the channel. @defaultValue 64 MiB */
  maxFrameBytes?: number
  /**
   * Treat the peer as a stranger until {@link MessageChannel.welcome} is
   * called: only frames up to `maxFrameBytes` (checked from the length
   * prefix, before buffering), and every byte buffered meanwhile taken from
   * `budget`, shared by all strangers. Going over either closes the channel.
   */
  unwelcomed?: { maxFrameBytes: number; budget?: ByteBudget }
}

/**
 * Frames queued in one turn of the event loop go out as one write. Above this
 * many queued bytes they go at once: batching only pays for small frames.
 */
const FLUSH_BYTES = 64 * 1024

/**
 * What every task channel in this process has carried so far: messages each way, the chunks read
 * and the writes made to their streams. Process-wide, so a benchmark can tell how many messages a
 * write carries (the batching that decides what a replica costs) without reaching into sessions.
 */
export interface ChannelTotals {
  messagesIn: number
  messagesOut: number
  /** Chunks the streams delivered (each a wake of the reader). */
  reads: number
  /** Sends to the streams (each one encrypted frame, one socket write). */
  writes: number
}

const totals: ChannelTotals = { messagesIn: 0, messagesOut: 0, reads: 0, writes: 0 }

/** A copy of this process's task-channel totals. */
export function channelTotals(): ChannelTotals {
  return { ...totals }
}

export type MessageHandler<In> = (message: In) => void
export type CloseHandler = (error?: Error) => void

/**
 * Typed messages over one long-lived libp2p stream: length-prefixed frames
 * with a size limit, decoded as they arrive. A long-lived stream per peer
 * avoids a stream negotiation per request, which caps throughput far below
 * what the scheduler needs.
 */
export class MessageChannel<In extends TaskChannelMessage, Out extends TaskChannelMessage> {
  readonly stream: Stream
  readonly #decoder: FrameDecoder
  #onMessage: MessageHandler<In> | undefined
  readonly #onClose = new Set<CloseHandler>()
  #closed = false
  #backlog: In[] = []
  #outgoing: Uint8Array[] = []
  #outgoingBytes = 0
  #flushScheduled = false
  readonly #maxFrameBytes: number
  /** The strangers' budget while unwelcomed, and how much of it this channel holds. */
  #budget: ByteBudget | undefined
  #held = 0

  constructor(stream: Stream, options: MessageChannelOptions = {}) {
    this.stream = stream
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#decoder = new FrameDecoder(options.unwelcomed?.maxFrameBytes ?? this.#maxFrameBytes)
    this.#budget = options.unwelcomed?.budget
    // A task channel is idle between assignments by design; heartbeats keep it honest instead.
    stream.inactivityTimeout = 0
    stream.addEventListener('message', (evt) => {
      if (this.#closed) return
      try {
        const data = evt.data
        const chunk = data instanceof Uint8Array ? data : data.subarray()
        const budget = this.#budget
        if (budget !== undefined && !budget.take(chunk.byteLength)) {
          throw new QuorateError(
            ErrorCode.PEER_LIMIT,
            `the ${budget.limit}-byte budget for peers not yet welcomed is spent; try again later`,
            { details: { limit: budget.limit } },
          )
        }
        this.#held += budget === undefined ? 0 : chunk.byteLength
        totals.reads++
        for (const body of this.#decoder.push(chunk)) {
          totals.messagesIn++
          this.#deliver(decodeMessage(body) as In)
        }
        this.#rebalance()
      } catch (err) {
        this.#fail(err as Error)
      }
    })
    stream.addEventListener('close', (evt) => this.#finish(evt.error))
    stream.addEventListener('remoteCloseWrite', () => this.#finish())
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The peer said hello and was accepted: lift the strangers' limits. */
  welcome(): void {
    this.#decoder.maxFrameBytes = this.#maxFrameBytes
    this.#budget?.release(this.#held)
    this.#budget = undefined
    this.#held = 0
  }

  /** Give back to the strangers' budget what the decoder no longer holds. */
  #rebalance(): void {
    if (this.#budget === undefined) return
    const now = this.#decoder.bufferedBytes
    if (now < this.#held) this.#budget.release(this.#held - now)
    this.#held = now
  }

  /** Register the message handler; messages that arrived before it are delivered now. */
  onMessage(handler: MessageHandler<In>): void {
    this.#onMessage = handler
    const backlog = this.#backlog
    this.#backlog = []
    for (const message of backlog) handler(message)
  }

  onClose(handler: CloseHandler): void {
    if (this.#closed) handler()
    else this.#onClose.add(handler)
  }

  /**
   * Queue one message. Messages sent in the same turn of the event loop leave
   * together in one frame of the stream (one encryption, one socket write),
   * which is what lets a coordinator hand out thousands of small tasks a
   * second. Returns false when the stream's write buffer is full; callers
   * that send in bulk should then `await drained()`.
   */
  send(message: Out): boolean {
    if (this.#closed) return false
    const frame = encodeMessage(message)
    this.#outgoing.push(frame)
    this.#outgoingBytes += frame.byteLength
    totals.messagesOut++
    if (this.#outgoingBytes >= FLUSH_BYTES) return this.flush()
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.flush())
    }
    return !this.stream.writableNeedsDrain
  }

  /** Write every queued message now. */
  flush(): boolean {
    this.#flushScheduled = false
    const frames = this.#outgoing
    if (frames.length === 0 || this.#closed) return !this.#closed
    const bytes = this.#outgoingBytes
    this.#outgoing = []
    this.#outgoingBytes = 0
    let data: Uint8Array
    if (frames.length === 1) data = frames[0] as Uint8Array
    else {
      data = new Uint8Array(bytes)
      let at = 0
      for (const frame of frames) {
        data.set(frame, at)
        at += frame.byteLength
      }
    }
    totals.writes++
    try {
      return this.stream.send(data)
    } catch (err) {
      this.#finish(err as Error)
      return false
    }
  }

  async drained(signal?: AbortSignal): Promise<void> {
    this.flush()
    await this.stream.onDrain(signal === undefined ? {} : { signal })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.flush()
    try {
      await this.stream.close({ signal: AbortSignal.timeout(2000) })
    } catch {
      this.stream.abort(new Error('closing'))
    }
    this.#finish()
  }

  #deliver(message: In): void {
    if (this.#onMessage === undefined) this.#backlog.push(message)
    else this.#onMessage(message)
  }

  #fail(err: Error): void {
    // Tell the peer why before hanging up: an error frame is the one message always worth sending.
    try {
      const frame = encodeMessage({ type: 'error', error: errorToWire(err) })
      this.#outgoing.push(frame)
      this.#outgoingBytes += frame.byteLength
      this.flush()
    } catch {}
    this.stream.abort(err)
    this.#finish(err)
  }

  #finish(error?: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.#budget?.release(this.#held)
    this.#budget = undefined
    this.#held = 0
    for (const handler of this.#onClose) handler(error)
    this.#onClose.clear()
  }
}
