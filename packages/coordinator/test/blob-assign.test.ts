import type { MessageChannel } from '@quorate/net'
import {
  type AgentMessage,
  type AssignMessage,
  type CoordinatorMessage,
  encodeStoredRef,
  type HelloMessage,
  type ResultMessage,
} from '@quorate/protocol'
import { describe, expect, it } from 'vitest'
import { AgentSession } from '../src/agent-session.ts'
import { BlobSources } from '../src/blob-sources.ts'

const self = { peerId: 'coordinator', addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/coordinator'] }
const sha256 = 'ab'.repeat(32)
const module = { sha256: 'cd'.repeat(32), bytes: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) }

function session(peerId: string, hello: Partial<HelloMessage>, sources: BlobSources) {
  const sent: CoordinatorMessage[] = []
  const refused: ResultMessage[] = []
  const channel = { send: (m: CoordinatorMessage) => sent.push(m) } as unknown as MessageChannel<
    AgentMessage,
    CoordinatorMessage
  >
  const full: HelloMessage = { type: 'hello', protocolVersion: 1, capacity: 1, agentVersion: 'test', ...hello }
  const s = new AgentSession(peerId, full, channel, undefined, 0, { sources, refuse: (r) => refused.push(r) })
  return { s, sent, refused }
}

function assignment(id: string): AssignMessage {
  return {
    type: 'assign',
    assignmentId: id,
    jobId: 'job',
    shardIndex: 0,
    attempt: 1,
    moduleSha256: module.sha256,
    args: [],
    env: {},
    limits: { timeoutMs: 1000, memoryMiB: 16, outputBytes: 100, stderrBytes: 100, fuel: 1000 },
    seed: 'ef'.repeat(32),
    input: encodeStoredRef({ sha256, size: 10, home: self }),
  }
}

describe('assignments of inputs given by reference', () => {
  it('send the blob and its sources: the coordinator first, then agents given it before', () => {
    const sources = new BlobSources(() => self)
    const a = session('agent-a', { blobAddrs: ['/ip4/127.0.0.1/tcp/5001/p2p/agent-a'] }, sources)
    const b = session('agent-b', { blobAddrs: ['/ip4/127.0.0.1/tcp/5002/p2p/agent-b'] }, sources)
    a.s.assign(assignment('1'), module)
    b.s.assign(assignment('2'), module)
    const sentA = a.sent.find((m) => m.type === 'assign') as AssignMessage
    const sentB = b.sent.find((m) => m.type === 'assign') as AssignMessage
    expect([sentA.input.byteLength, sentA.inputBlob]).toEqual([0, { sha256, size: 10, sources: [self] }])
    expect(sentB.inputBlob?.sources).toEqual([
      self,
      { peerId: 'agent-a', addrs: ['/ip4/127.0.0.1/tcp/5001/p2p/agent-a'] },
    ])
    // An agent that left is no longer named.
    sources.forgetPeer('agent-a')
    a.s.assign(assignment('3'), module)
    expect((a.sent.at(-1) as AssignMessage).inputBlob?.sources).toEqual([
      self,
      { peerId: 'agent-b', addrs: ['/ip4/127.0.0.1/tcp/5002/p2p/agent-b'] },
    ])
  })

  it('are answered as crashed, never sent, for an agent that announced no blob addresses', () => {
    const old = session('old-agent', {}, new BlobSources(() => self))
    old.s.assign(assignment('1'), module)
    expect(old.sent).toEqual([])
    expect(old.refused).toMatchObject([
      {
        assignmentId: '1',
        outcome: {
          kind: 'crashed',
          message: 'the provider does not take inputs by reference (it announced no blob addresses)',
        },
      },
    ])
  })
})
