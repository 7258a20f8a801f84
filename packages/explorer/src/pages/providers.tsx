import type { ProviderView } from '@quorate/protocol/api'
import { useMemo } from 'react'
import { Account, Amount, DASH, ErrorBox, PeerTag, Section } from '../components/common.tsx'
import { age, count, duration } from '../format.ts'
import { useApi, useInterval, useLiveEvents, useNow, useResource, useThrottled } from '../hooks.ts'

/** Providers: who is online, how busy, how honest, where they are paid, and what they staked and earned. */
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
        <table className="providers cards" data-testid="providers-table">
          <ProvidersTableHead />
          <tbody>
            {list.map((p) => (
              <ProviderRow key={p.peerId} provider={p} now={now} />
            ))}
            {providers.data !== undefined && list.length === 0 && (
              <tr>
                <td colSpan={13} className="empty">
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

/** The column headings; titles explain the columns whose meaning is not obvious. */
function ProvidersTableHead() {
  return (
    <thead>
      <tr>
        <th title="short name: the end of its PeerId, as everywhere in the explorer">provider</th>
        <th title="the operator's account: where its payouts go">payout account</th>
        <th>status</th>
        <th title="region / zone its agent declared (used only to spread replicas)">region</th>
        <th>running / capacity</th>
        <th title="on chain, in the Registry">stake</th>
        <th title="credited by this coordinator's settlements">earnings</th>
        <th title="results that agreed with the accepted digest">valid</th>
        <th title="results outvoted by the majority">invalid</th>
        <th>timeouts</th>
        <th title="placements lost to disconnects">lost</th>
        <th title="CPU spent on replicas cancelled because their shard was already decided">wasted CPU</th>
        <th>last seen</th>
      </tr>
    </thead>
  )
}

/** One provider: identity, status, load, money and counters. */
function ProviderRow({ provider: p, now }: { provider: ProviderView; now: number }) {
  return (
    <tr data-testid="provider-row" data-online={p.online} data-peer-id={p.peerId}>
      <td className="card-title">
        <PeerTag peerId={p.peerId} />
      </td>
      <td data-label="payout account" data-testid="provider-account">
        {p.operator === undefined ? DASH : <Account address={p.operator} />}
      </td>
      <ProviderStatus provider={p} />
      <td data-label="region" data-testid="provider-region">
        {p.region === undefined && p.zone === undefined
          ? DASH
          : `${p.region ?? DASH}${p.zone === undefined ? '' : ` / ${p.zone}`}`}
      </td>
      <ProviderLoad running={p.running} capacity={p.capacity} />
      <td data-label="stake" className="num" data-testid="provider-stake">
        <Amount value={p.stake} />
      </td>
      <td data-label="earnings" className="num" data-testid="provider-earnings">
        <Amount value={p.earnings} />
      </td>
      <td data-label="valid" className="num ok">
        {count(p.counters.valid)}
      </td>
      <td data-label="invalid" className={p.counters.invalid > 0 ? 'num bad' : 'num'}>
        {count(p.counters.invalid)}
      </td>
      <td data-label="timeouts" className={p.counters.timeouts > 0 ? 'num warn' : 'num'}>
        {count(p.counters.timeouts)}
      </td>
      <td data-label="lost" className="num">
        {count(p.counters.lost)}
      </td>
      <td data-label="wasted CPU" className="num" data-testid="provider-wasted">
        {p.wastedCpuMs === undefined ? DASH : duration(p.wastedCpuMs)}
      </td>
      <td
        data-label="last seen"
        className="muted"
        title={p.connectedAt === undefined ? undefined : `connected ${age(p.connectedAt, now)} ago`}
      >
        {age(p.lastSeenAt, now)} ago
      </td>
    </tr>
  )
}

/** Online or offline, plus any warning the coordinator holds against it. */
function ProviderStatus({ provider: p }: { provider: ProviderView }) {
  return (
    <td data-label="status">
      <span className="badges">
        <span className="badge" data-state={p.online ? 'online' : 'offline'}>
          {p.online ? 'online' : 'offline'}
        </span>
        {p.online && p.suspect === true && (
          <span
            className="badge"
            data-state="warn"
            data-testid="suspect"
            title="missed its heartbeat window: no new work until it is heard from"
          >
            suspect
          </span>
        )}
        {p.quarantined !== undefined && (
          <span className="badge" data-state="failed" data-testid="quarantined" title={p.quarantined.reason}>
            quarantined
          </span>
        )}
        {p.slashed !== undefined && (
          <span className="badge" data-state="failed" title="slashed on chain for a result the quorum outvoted">
            slashed <Amount value={p.slashed} />
          </span>
        )}
      </span>
    </td>
  )
}

/** Running replicas against capacity, with a bar for how busy it is. */
function ProviderLoad({ running, capacity }: { running: number; capacity: number }) {
  const load = capacity === 0 ? 0 : running / capacity
  return (
    <td data-label="running / capacity">
      <span>
        <span className="load" title={`${Math.round(load * 100)}% busy`}>
          <span style={{ width: `${Math.min(100, load * 100)}%` }} />
        </span>
        {running} / {capacity}
      </span>
    </td>
  )
}
