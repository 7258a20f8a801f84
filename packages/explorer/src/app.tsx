import type { JobEvent } from '@quorate/protocol/api'
import { useMemo, useRef } from 'react'
import type { Api } from './api.ts'
import { LiveIndicator } from './components/common.tsx'
import { shortPeer } from './format.ts'
import {
  ApiContext,
  InfoContext,
  LiveContext,
  type LiveFeed,
  useApi,
  useEventStream,
  useLiveFeed,
  useResource,
  useRoute,
} from './hooks.ts'
import { JobPage } from './pages/job.tsx'
import { JobsPage } from './pages/jobs.tsx'
import { ProvidersPage } from './pages/providers.tsx'
import { formatRoute } from './route.ts'

type Subscriber = { onEvent: (e: JobEvent) => void; onReconnect: (() => void) | undefined }

/** The app: one `/v1/events` stream for every page, a header, and the page the hash names. */
export function App(props: { api: Api }) {
  const { api } = props
  const subscribers = useRef(new Set<Subscriber>())
  const status = useEventStream(
    api.eventsUrl(),
    (event) => {
      for (const s of subscribers.current) s.onEvent(event)
    },
    () => {
      for (const s of subscribers.current) s.onReconnect?.()
    },
  )
  const feed = useMemo<LiveFeed>(
    () => ({
      status,
      subscribe(onEvent, onReconnect) {
        const s: Subscriber = { onEvent, onReconnect }
        subscribers.current.add(s)
        return () => subscribers.current.delete(s)
      },
    }),
    [status],
  )
  return (
    <ApiContext.Provider value={api}>
      <LiveContext.Provider value={feed}>
        <Shell />
      </LiveContext.Provider>
    </ApiContext.Provider>
  )
}

function Shell() {
  const [route, navigate] = useRoute()
  const info = useInfo()
  const current = route.page === 'providers' ? 'providers' : 'jobs'
  return (
    <InfoContext.Provider value={info}>
      <header className="top">
        <a className="brand" href={formatRoute({ page: 'jobs', offset: 0 })}>
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <circle cx="7" cy="8" r="4" fill="#34d399" />
            <circle cx="17" cy="8" r="4" fill="#34d399" />
            <circle cx="12" cy="17" r="4" fill="#f87171" />
          </svg>
          Quorate <span className="brand-sub">explorer</span>
        </a>
        <nav className="tabs">
          <a href={formatRoute({ page: 'jobs', offset: 0 })} aria-current={current === 'jobs' ? 'page' : undefined}>
            Jobs
          </a>
          <a href={formatRoute({ page: 'providers' })} aria-current={current === 'providers' ? 'page' : undefined}>
            Providers
          </a>
        </nav>
        <div className="top-right">
          {info !== undefined && (
            <span className="coord" title={`${info.peerId}\n${info.multiaddrs.join('\n')}`}>
              coordinator {shortPeer(info.peerId)} · v{info.version} · {info.backend}
            </span>
          )}
          {info?.admission?.untrusted === true && (
            <span
              className="badge"
              data-state="failed"
              data-testid="untrusted-network"
              title="this coordinator admits any peer under any number of identities: the vote does not vouch for its results"
            >
              untrusted network
            </span>
          )}
          <GlobalLive />
        </div>
      </header>
      <main>
        {route.page === 'jobs' && <JobsPage state={route.state} offset={route.offset} navigate={navigate} />}
        {route.page === 'job' && (
          <JobPage key={route.id} id={route.id} shard={route.shard} shardPage={route.shardPage} navigate={navigate} />
        )}
        {route.page === 'providers' && <ProvidersPage />}
        {route.page === 'not-found' && (
          <section className="panel">
            <p>
              Nothing at <code>#{route.path}</code>. <a href={formatRoute({ page: 'jobs', offset: 0 })}>Go to jobs</a>.
            </p>
          </section>
        )}
      </main>
    </InfoContext.Provider>
  )
}

function useInfo() {
  const api = useApi()
  return useResource((signal) => api.info(signal), []).data
}

function GlobalLive() {
  return <LiveIndicator status={useLiveFeed().status} />
}
