import { type CoordinatorInfo, JOB_EVENT_NAMES, type JobEvent } from '@quorate/protocol/api'
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react'
import { type Api, createApi } from './api.ts'
import { parseJobEvent, throttle } from './live.ts'
import { formatRoute, parseRoute, type Route } from './route.ts'
import { type TokenDisplay, tokenDisplayOf } from './tokens.ts'

export const ApiContext = createContext<Api>(createApi())

export function useApi(): Api {
  return useContext(ApiContext)
}

/** The coordinator's `/v1/info`, once loaded: every page reads the payment token from it. */
export const InfoContext = createContext<CoordinatorInfo | undefined>(undefined)

/** How to show token amounts here (the default until `/v1/info` says otherwise). */
export function useToken(): TokenDisplay {
  const info = useContext(InfoContext)
  return useMemo(() => tokenDisplayOf(info), [info])
}

/** The current hash route, and a way to go somewhere else (no reload: only the hash changes). */
export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash))
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  const navigate = useCallback((next: Route) => {
    window.location.hash = formatRoute(next)
  }, [])
  return [route, navigate]
}

export type StreamStatus = 'connecting' | 'live' | 'reconnecting'

/**
 * Subscribe to a server-sent event stream of job events. `onEvent` and
 * `onOpen` may change between renders without reopening the stream.
 * `onOpen` runs each time the stream is live, the first time included:
 * events from before then (since a page's first fetch, or during a drop)
 * were not seen, so callers refetch. A job whose last events came between a
 * page's fetch and its stream's start would otherwise look stuck.
 */
export function useEventStream(
  url: string | undefined,
  onEvent: (event: JobEvent) => void,
  onOpen?: () => void,
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>('connecting')
  const handlers = useRef({ onEvent, onOpen })
  handlers.current = { onEvent, onOpen }
  useEffect(() => {
    if (url === undefined) return
    let source: EventSource | undefined
    let retry: ReturnType<typeof setTimeout> | undefined
    let closed = false
    const listener = (e: MessageEvent<string>) => {
      const event = parseJobEvent(e.data)
      if (event !== undefined) handlers.current.onEvent(event)
    }
    const open = () => {
      source = new EventSource(url)
      for (const name of JOB_EVENT_NAMES) source.addEventListener(name, listener)
      source.onopen = () => {
        setStatus('live')
        handlers.current.onOpen?.()
      }
      source.onerror = () => {
        setStatus('reconnecting')
        // The browser retries by itself unless the response was not a stream (e.g. a 502); then we do.
        if (source?.readyState === EventSource.CLOSED && !closed) {
          source.close()
          retry = setTimeout(open, 3000)
        }
      }
    }
    setStatus('connecting')
    open()
    return () => {
      closed = true
      if (retry !== undefined) clearTimeout(retry)
      source?.close()
    }
  }, [url])
  return status
}

/** The app-wide `/v1/events` stream, shared by every page through context. */
export interface LiveFeed {
  status: StreamStatus
  subscribe(handler: (event: JobEvent) => void, onReconnect?: () => void): () => void
}

export const LiveContext = createContext<LiveFeed>({ status: 'connecting', subscribe: () => () => {} })

export function useLiveFeed(): LiveFeed {
  return useContext(LiveContext)
}

/** Run `handler` on every event of the app-wide stream (and `onReconnect` after a drop). */
export function useLiveEvents(handler: (event: JobEvent) => void, onReconnect?: () => void): StreamStatus {
  const feed = useContext(LiveContext)
  const handlers = useRef({ handler, onReconnect })
  handlers.current = { handler, onReconnect }
  useEffect(
    () =>
      feed.subscribe(
        (e) => handlers.current.handler(e),
        () => handlers.current.onReconnect?.(),
      ),
    [feed],
  )
  return feed.status
}

export interface Resource<T> {
  data: T | undefined
  error: Error | undefined
  loading: boolean
  /** Refetch now, keeping the current data on screen meanwhile. */
  reload(): void
}

/**
 * Data from the API that stays on screen while it is refetched. Only the
 * latest request's answer is applied, so a slow response never overwrites a
 * newer one.
 */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  })
  const loader = useRef(load)
  loader.current = load
  const seq = useRef(0)
  const controller = useRef<AbortController | undefined>(undefined)
  const reload = useCallback(() => {
    const id = ++seq.current
    controller.current?.abort()
    const ac = new AbortController()
    controller.current = ac
    setState((s) => (s.loading ? s : { ...s, loading: true }))
    loader.current(ac.signal).then(
      (data) => {
        if (id === seq.current) setState({ data, error: undefined, loading: false })
      },
      (error: unknown) => {
        if (id !== seq.current || ac.signal.aborted) return
        setState((s) => ({ data: s.data, error: error as Error, loading: false }))
      },
    )
  }, [])
  useEffect(
    () => {
      setState({ data: undefined, error: undefined, loading: true })
      reload()
      return () => controller.current?.abort()
    },
    // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's; a change means a new query.
    deps,
  )
  return { ...state, reload }
}

/** A leading + trailing throttled `fn`, stable across renders: bursts of events become one refetch per window. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn)
  ref.current = fn
  const [throttled] = useState(() => throttle(() => ref.current(), ms))
  useEffect(() => () => throttled.cancel(), [throttled])
  return throttled
}

/** Call `fn` every `ms` while mounted and the tab is visible. */
export function useInterval(fn: () => void, ms: number): void {
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') ref.current()
    }, ms)
    return () => clearInterval(timer)
  }, [ms])
}

/** The current time, ticking every `ms`, for "3m ago" labels. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now())
  useInterval(() => setNow(Date.now()), ms)
  return now
}

/** The content width of an element, followed as it resizes (a phone turned, a window narrowed). */
export function useWidth<T extends HTMLElement>(): [(el: T | null) => void, number | undefined] {
  const [width, setWidth] = useState<number | undefined>(undefined)
  const observer = useRef<ResizeObserver | undefined>(undefined)
  const ref = useCallback((el: T | null) => {
    observer.current?.disconnect()
    observer.current = undefined
    if (el === null) return
    setWidth(el.clientWidth)
    observer.current = new ResizeObserver(([entry]) => {
      if (entry !== undefined) setWidth(entry.contentRect.width)
    })
    observer.current.observe(el)
  }, [])
  return [ref, width]
}
