import type { ProviderView } from '@quorate/protocol'
import { useMemo } from 'react'
import { useProviderChainData } from '../chain.ts'
import { DASH, ErrorBox, PeerTag, Section } from '../components/common.tsx'
import { age, count, shortPeer } from '../format.ts'
import { useApi, useInterval, useLiveEvents, useNow, useResource, useThrottled } from '../hooks.ts'

/** Providers: who is online, how busy, how honest; stake and earnings once chain data exists. */
export function ProvidersPage() {
  const api = useApi()
  const now = useNow()
  const providers = useResource((signal) => api.providers(signal), [])
  // Placements and results change running counts and counters; connects and drops have no event, so poll too.
  const refresh = useThrottled(providers.reload, 1000)
  useLiveEvents((e) => {
    if (e.type === 'shard:dispatched' || e.type === 'replica:result' || e.type === 'shard:accepted') refresh()
  }, providers.reload)
  useInterval(providers.reload, 5000)
  const list = useMemo(() => sortProviders(providers.data ?? []), [providers.data])
  const chain = useProviderChainData(list)
  const online = list.filter((p) => p.online).length
  return (
    <Section
      title="Providers"
      aside={
        <span className="muted">
          {online} online · {list.length - online} offline
        </span>
      }
    >
      {providers.error !== undefined && <ErrorBox error={providers.error} />}
      <div className="table-wrap">
        <table className="providers" data-testid="providers-table">
          <thead>
            <tr>
              <th>provider</th>
              <th>operator</th>
              <th>status</th>
              <th>running / capacity</th>
              <th title="results that agreed with the accepted digest">valid</th>
              <th title="results outvoted by the majority">invalid</th>
              <th>timeouts</th>
              <th title="placements lost to disconnects">lost</th>
              <th title="on chain">stake</th>
              <th title="on chain">earnings</th>
              <th>connected</th>
              <th>last seen</th>
            </tr>
          </thead>
          <tbody>
            {list.map((p) => {
              const c = chain.get(p.peerId)
              const load = p.capacity === 0 ? 0 : p.running / p.capacity
              return (
                <tr key={p.peerId} data-testid="provider-row" data-online={p.online}>
                  <td>
                    <PeerTag peerId={p.peerId} />
                    <div className="mono small muted">{p.peerId}</div>
                  </td>
                  <td className="mono">{p.operator === undefined ? DASH : shortPeer(p.operator)}</td>
                  <td>
                    <span className="badge" data-state={p.online ? 'online' : 'offline'}>
                      {p.online ? 'online' : 'offline'}
                    </span>
                    {p.quarantined !== undefined && (
                      <span
                        className="badge"
                        data-state="failed"
                        data-testid="quarantined"
                        title={p.quarantined.reason}
                      >
                        quarantined
                      </span>
                    )}
                    {p.slashed !== undefined && (
                      <span
                        className="badge"
                        data-state="failed"
                        title="slashed on chain for a result the quorum outvoted"
                      >
                        slashed {p.slashed}
                      </span>
                    )}
                  </td>
                  <td>
                    <div className="load" title={`${Math.round(load * 100)}% busy`}>
                      <span style={{ width: `${Math.min(100, load * 100)}%` }} />
                    </div>
                    {p.running} / {p.capacity}
                  </td>
                  <td className="num ok">{count(p.counters.valid)}</td>
                  <td className={p.counters.invalid > 0 ? 'num bad' : 'num'}>{count(p.counters.invalid)}</td>
                  <td className={p.counters.timeouts > 0 ? 'num warn' : 'num'}>{count(p.counters.timeouts)}</td>
                  <td className="num">{count(p.counters.lost)}</td>
                  <td className="num">{c?.stake ?? DASH}</td>
                  <td className="num">{c?.earnings ?? DASH}</td>
                  <td className="muted">{p.connectedAt === undefined ? DASH : `${age(p.connectedAt, now)} ago`}</td>
                  <td className="muted">{age(p.lastSeenAt, now)} ago</td>
                </tr>
              )
            })}
            {providers.data !== undefined && list.length === 0 && (
              <tr>
                <td colSpan={12} className="empty">
                  No provider has connected yet. Start one: <code>quorate agent start --coordinator MULTIADDR</code>
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </Section>
  )
}

/** Online first, then by id: rows keep their place while counters change. */
function sortProviders(list: readonly ProviderView[]): ProviderView[] {
  return [...list].sort((a, b) => Number(b.online) - Number(a.online) || a.peerId.localeCompare(b.peerId))
}
