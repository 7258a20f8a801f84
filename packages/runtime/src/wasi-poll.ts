/**
 * poll_oneoff of Quorate's WASI host (wasi.ts). Every stream is always ready (its bytes are all
 * here, or it writes into a buffer), and the clock moves only when a poll on clocks alone sleeps.
 */
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  ERRNO,
  EVENT_ERROR,
  EVENT_FD_READWRITE_HANGUP,
  EVENT_FLAGS,
  EVENT_NBYTES,
  EVENT_SIZE,
  EVENT_TYPE,
  EVENT_USERDATA,
  EVENTTYPE_CLOCK,
  EVENTTYPE_FD_READ,
  EVENTTYPE_FD_WRITE,
  SUB_CLOCK_FLAGS,
  SUB_CLOCK_ID,
  SUB_CLOCK_TIMEOUT,
  SUB_FD,
  SUB_TAG,
  SUB_USERDATA,
  SUBCLOCK_ABSTIME,
  SUBSCRIPTION_SIZE,
  U64_MAX,
} from './wasi-abi.ts'
import { fits, type Stream } from './wasi-streams.ts'

/** What poll_oneoff needs of the host: its memory, its clock, its descriptors. */
export interface PollHost {
  mem(): { u8: Uint8Array; view: DataView }
  /** What every clock reads now. */
  now(): bigint
  /** Move every clock forward to `deadline` (a sleep, costing no wall time). */
  sleepUntil(deadline: bigint): void
  stream(fd: number): Stream | undefined
  /** Bytes a stream can take or give right now. */
  ready(stream: Stream): number
}

type Subscription =
  | { userdata: bigint; type: typeof EVENTTYPE_CLOCK; deadline: bigint }
  | { userdata: bigint; type: typeof EVENTTYPE_FD_READ | typeof EVENTTYPE_FD_WRITE; stream: Stream }

/**
 * Every stream is always ready (its bytes are all here, or it writes into a buffer), so a poll with
 * any descriptor subscription returns at once. A poll on clocks alone is a sleep: the clock jumps
 * to the earliest deadline, which costs no wall time and reads the same on every replica.
 */
export function pollOneoff(
  host: PollHost,
  subsPtr: number,
  eventsPtr: number,
  count: number,
  neventsPtr: number,
): number {
  subsPtr >>>= 0
  eventsPtr >>>= 0
  count >>>= 0
  neventsPtr >>>= 0
  // As in wasmtime: waiting on nothing would block forever.
  if (count === 0) return ERRNO.INVAL
  const { u8, view } = host.mem()
  if (
    !fits(u8, subsPtr, count * SUBSCRIPTION_SIZE) ||
    !fits(u8, eventsPtr, count * EVENT_SIZE) ||
    !fits(u8, neventsPtr, 4)
  ) {
    return ERRNO.FAULT
  }
  // First every subscription is checked and the earliest deadline found: a bad one fails the whole
  // call before anything is written or the clock moves.
  const before = host.now()
  let earliest = U64_MAX
  let descriptors = false
  for (let i = 0; i < count; i++) {
    const sub = readSubscription(host, view, subsPtr + i * SUBSCRIPTION_SIZE, before)
    if (typeof sub === 'number') return sub
    if (sub.type !== EVENTTYPE_CLOCK) descriptors = true
    else if (sub.deadline < earliest) earliest = sub.deadline
  }
  if (!descriptors && earliest > host.now()) host.sleepUntil(earliest)
  // Then an event for each subscription due, in order. Each is read again rather than kept from the
  // first pass, so a poll of millions holds no host memory; only a module whose event array overlaps
  // its subscriptions can change one in between (it is then read as it is now, like wasmtime does).
  let events = 0
  for (let i = 0; i < count; i++) {
    const sub = readSubscription(host, view, subsPtr + i * SUBSCRIPTION_SIZE, before)
    if (typeof sub === 'number' || (sub.type === EVENTTYPE_CLOCK && sub.deadline > host.now())) continue
    const at = eventsPtr + events++ * EVENT_SIZE
    u8.fill(0, at, at + EVENT_SIZE)
    view.setBigUint64(at + EVENT_USERDATA, sub.userdata, true)
    view.setUint16(at + EVENT_ERROR, ERRNO.SUCCESS, true)
    view.setUint8(at + EVENT_TYPE, sub.type)
    if (sub.type !== EVENTTYPE_CLOCK) {
      const nbytes = host.ready(sub.stream)
      view.setBigUint64(at + EVENT_NBYTES, BigInt(nbytes), true)
      if (sub.stream === 'stdin' && nbytes === 0) view.setUint16(at + EVENT_FLAGS, EVENT_FD_READWRITE_HANGUP, true)
    }
  }
  view.setUint32(neventsPtr, events, true)
  return ERRNO.SUCCESS
}

/** The subscription at `at`, with relative timeouts counted from `now`, or the errno that makes it invalid. */
function readSubscription(host: PollHost, view: DataView, at: number, now: bigint): Subscription | number {
  const userdata = view.getBigUint64(at + SUB_USERDATA, true)
  const tag = view.getUint8(at + SUB_TAG)
  if (tag === EVENTTYPE_CLOCK) {
    const id = view.getUint32(at + SUB_CLOCK_ID, true)
    // Like wasmtime, only the realtime and monotonic clocks can be waited on.
    if (id !== CLOCK_REALTIME && id !== CLOCK_MONOTONIC) return ERRNO.INVAL
    const timeout = view.getBigUint64(at + SUB_CLOCK_TIMEOUT, true)
    const absolute = (view.getUint16(at + SUB_CLOCK_FLAGS, true) & SUBCLOCK_ABSTIME) !== 0
    let deadline = absolute ? timeout : now + timeout
    // A clock is a u64: a sleep past its end stops there.
    if (deadline > U64_MAX) deadline = U64_MAX
    return { userdata, type: EVENTTYPE_CLOCK, deadline }
  }
  if (tag === EVENTTYPE_FD_READ || tag === EVENTTYPE_FD_WRITE) {
    const stream = host.stream(view.getUint32(at + SUB_FD, true))
    if (stream === undefined || (tag === EVENTTYPE_FD_READ) !== (stream === 'stdin')) return ERRNO.BADF
    return { userdata, type: tag, stream }
  }
  return ERRNO.INVAL
}
