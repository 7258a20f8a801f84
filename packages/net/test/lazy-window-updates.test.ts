import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { describe, expect, it } from 'vitest'
import { lazyWindowUpdates } from '../src/lazy-window-updates.ts'

const WINDOW = 256 * 1024
const DATA = 0 // Yamux frame type of a data frame
const WINDOW_UPDATE = 1

/** A stream whose frames to the remote are collected instead of sent. */
function stream(state: StreamState) {
  const sent: Array<{ type: number; flag: number; length: number }> = []
  const quiet = Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => quiet })
  const s = new YamuxStream({
    id: '1',
    streamId: 1,
    direction: 'inbound',
    log: quiet as never,
    state,
    getRTT: () => -1,
    initialStreamWindowSize: WINDOW,
    sendFrame: (header) => {
      sent.push({ type: header.type, flag: header.flag, length: header.length })
      return true
    },
  })
  const receive = (bytes: number) =>
    s.handleData({
      header: { type: DATA, flag: 0, streamID: 1, length: bytes, version: 0 },
      data: new Uint8Array(bytes) as never,
    })
  return { sent, receive }
}

describe('lazyWindowUpdates', () => {
  lazyWindowUpdates()

  it('grants window once half of it is used, not after every frame', () => {
    const { sent, receive } = stream(StreamState.Established)
    // A job's worth of small frames (an assign, a result) sends nothing back.
    for (let i = 0; i < 100; i++) receive(500)
    expect(sent).toEqual([])
    // Past half the window, one grant for all of it.
    receive(WINDOW / 2)
    expect(sent).toEqual([{ type: WINDOW_UPDATE, flag: 0, length: 100 * 500 + WINDOW / 2 }])
    receive(500)
    expect(sent).toHaveLength(1)
  })

  it('still answers a stream being opened at once', () => {
    const { sent, receive } = stream(StreamState.SYNReceived)
    receive(10)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.type).toBe(WINDOW_UPDATE)
    expect(sent[0]?.flag).not.toBe(0) // the ACK that establishes the stream
  })
})
