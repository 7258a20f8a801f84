import type { JobState, ReplicaView, ShardState } from '@quorate/protocol'
import type { JobRecord, ShardRecord, StoredSpec } from '../../backend.ts'

/** A job as a backend stores it: numbers may come back as strings (Redis), absent fields as null (SQLite). */
export interface StoredJobFields {
  spec: string
  state: string
  createdAt: number | string
  updatedAt: number | string
  deadline: number | string
  total: number | string
  accepted: number | string
  failed: number | string
  finishedAt?: number | string | null
  reason?: string | null
}

export function jobRecordOf(id: string, row: StoredJobFields): JobRecord {
  const job: JobRecord = {
    id,
    spec: JSON.parse(row.spec) as StoredSpec,
    state: row.state as JobState,
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
    deadline: Number(row.deadline),
    total: Number(row.total),
    accepted: Number(row.accepted),
    failed: Number(row.failed),
  }
  if (row.finishedAt !== undefined && row.finishedAt !== null) job.finishedAt = Number(row.finishedAt)
  if (row.reason !== undefined && row.reason !== null) job.reason = row.reason
  return job
}

/** A shard as a backend stores it; `decision` is the JSON of its decision detail, when decided. */
export interface StoredShardFields {
  state: string
  inputSha256: string
  inputBytes: number | string
  /** 1 when the input is a blob reference (inputBytes is then the blob's size). */
  inputBlob?: number | string | null
  replicas?: string
  decision?: string | null
  runs?: number | string
  reason?: string
}

export function shardRecordOf(index: number, row: StoredShardFields): ShardRecord {
  const record: ShardRecord = {
    index,
    state: row.state as ShardState,
    inputSha256: row.inputSha256,
    inputBytes: Number(row.inputBytes),
    replicas: JSON.parse(row.replicas ?? '[]') as ReplicaView[],
    runs: Number(row.runs ?? 0),
  }
  if (Number(row.inputBlob) === 1) record.inputBlob = true
  if (row.decision !== undefined && row.decision !== null) Object.assign(record, JSON.parse(row.decision))
  if (row.reason !== undefined) record.reason = row.reason
  return record
}
