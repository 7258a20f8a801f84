import { z } from 'zod'
import { blobRefSchema, encodeStoredRef, inputDigestOf, looksLikeStoredRef } from './blobs.ts'
import { fromBase64, sha256Hex } from './bytes.ts'
import { OWNER_KEY_PATTERN } from './control.ts'
import { InvalidJobSpecError, type SpecIssue } from './errors.ts'

/** Defaults applied to a job spec's optional fields. */
export const JOB_DEFAULTS = {
  redundancy: 3,
  quorum: 2,
  limits: {
    timeoutMs: 60_000,
    memoryMiB: 256,
    outputBytes: 16 * 1024 * 1024,
    stderrBytes: 64 * 1024,
    // One unit of fuel is one executed WebAssembly instruction (see the runtime README, Metering). The
    // fastest code measured runs about 25 billion a second on one core, so this lets a task use the whole
    // default timeout (60 s) with room to spare: the timeout, not fuel, stops a long task by default.
    fuel: 3_000_000_000_000,
  },
  /** How long a job may take, from acceptance, when it names no deadline. */
  deadlineMs: 60 * 60 * 1000,
} as const

/** Hard bounds every coordinator enforces, whatever a spec asks for. */
export const JOB_BOUNDS = {
  maxInputs: 100_000,
  maxReplicas: 16,
  maxArgs: 256,
  /** Characters in one argument, and in one env key or value: the task channel refuses longer. */
  maxArgChars: 4096,
  maxEnvEntries: 1024,
  maxTimeoutMs: 24 * 60 * 60 * 1000,
  maxMemoryMiB: 4096,
  maxStderrBytes: 1024 * 1024,
  // What travels in one task-channel frame (64 MiB, DEFAULT_MAX_FRAME_BYTES) must fit in it, or a
  // job is accepted that no agent can ever receive or answer: the module; a shard's input with the
  // args and env (as JSON); a result's output with its stderr.
  maxModuleBytes: 60 * 1024 * 1024,
  maxInputBytes: 60 * 1024 * 1024,
  /** args and env together, as the JSON the assignment carries them in. */
  maxArgsEnvBytes: 1024 * 1024,
  maxOutputBytes: 60 * 1024 * 1024,
} as const

const MiB = 1024 * 1024
const utf8 = new TextEncoder()

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]

const base64 = z.string({ error: 'must be a base64 string' })
const positiveInt = (max: number) =>
  z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .positive('must be greater than 0')
    .max(max, `must be at most ${max}`)

/** The JSON shape of a job spec, version 1, as submitted to a coordinator. */
export const jobSpecJsonSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only job spec version)' }).default(1),
  name: z.string().max(200, 'must be at most 200 characters').optional(),
  module: z.union(
    [
      z.strictObject({
        wasm: base64,
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters')
          .optional(),
      }),
      blobRefSchema,
    ],
    {
      error:
        'must be an object with a base64 "wasm" field, or a blob reference { "blob": "<sha256>", "size": <bytes> }',
    },
  ),
  args: z
    .array(z.string().max(JOB_BOUNDS.maxArgChars, `must be at most ${JOB_BOUNDS.maxArgChars} characters`), {
      error: 'must be a list of strings',
    })
    .max(JOB_BOUNDS.maxArgs)
    .default([]),
  env: z
    .record(
      z.string().max(JOB_BOUNDS.maxArgChars, `must be at most ${JOB_BOUNDS.maxArgChars} characters`),
      z.string().max(JOB_BOUNDS.maxArgChars, `must be at most ${JOB_BOUNDS.maxArgChars} characters`),
      { error: 'must be an object of string values' },
    )
    .refine((env) => Object.keys(env).length <= JOB_BOUNDS.maxEnvEntries, {
      message: `must have at most ${JOB_BOUNDS.maxEnvEntries} entries`,
    })
    .default({}),
  inputs: z
    .array(
      z.union([base64, blobRefSchema], {
        error: 'must be a base64 string or a blob reference { "blob": "<sha256>", "size": <bytes> }',
      }),
      { error: 'must be a list of base64 strings or blob references, one per shard' },
    )
    .min(1, 'must contain at least one shard input')
    .max(JOB_BOUNDS.maxInputs, `must contain at most ${JOB_BOUNDS.maxInputs} shard inputs`),
  redundancy: positiveInt(JOB_BOUNDS.maxReplicas).default(JOB_DEFAULTS.redundancy),
  quorum: positiveInt(JOB_BOUNDS.maxReplicas).optional(),
  maxReplicas: positiveInt(JOB_BOUNDS.maxReplicas).optional(),
  decide: z
    .enum(['all', 'quorum'], { error: 'must be "all" (wait for every replica; the default) or "quorum"' })
    .default('all'),
  limits: z
    .strictObject({
      timeoutMs: positiveInt(JOB_BOUNDS.maxTimeoutMs).default(JOB_DEFAULTS.limits.timeoutMs),
      memoryMiB: positiveInt(JOB_BOUNDS.maxMemoryMiB).default(JOB_DEFAULTS.limits.memoryMiB),
      outputBytes: positiveInt(JOB_BOUNDS.maxOutputBytes).default(JOB_DEFAULTS.limits.outputBytes),
      stderrBytes: positiveInt(JOB_BOUNDS.maxStderrBytes).default(JOB_DEFAULTS.limits.stderrBytes),
      fuel: positiveInt(Number.MAX_SAFE_INTEGER).default(JOB_DEFAULTS.limits.fuel),
    })
    .prefault({}),
  payment: z
    .strictObject(
      {
        escrowJobId: z
          .string()
          .regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x followed by 64 hex characters (the Escrow job id)'),
      },
      { error: 'must be an object with an "escrowJobId" field' },
    )
    .optional(),
  owner: z
    .string({ error: 'must be a string' })
    .regex(OWNER_KEY_PATTERN, 'must be "ed25519:" followed by the 64 hex digits of an Ed25519 public key')
    .optional(),
  deadline: z
    .union([z.number().int().positive(), z.iso.datetime({ offset: true })], {
      error: 'must be a Unix time in milliseconds or an ISO-8601 date-time',
    })
    .optional(),
})

export type JobSpecJson = z.input<typeof jobSpecJsonSchema>

export interface TaskLimits {
  /** Wall-clock backstop per replica, in milliseconds. */
  timeoutMs: number
  /** Largest linear memory a module may have, in MiB. */
  memoryMiB: number
  /** Largest stdout a replica may produce, in bytes. */
  outputBytes: number
  /** Largest stderr (the task log) kept, in bytes; the rest is cut. */
  stderrBytes: number
  /** Deterministic instruction budget per replica. */
  fuel: number
}

/** A validated job spec, with bytes decoded and defaults applied. */
export interface JobSpec {
  version: 1
  name?: string
  /**
   * The module. Named by reference (`blob`), its `bytes` are empty until the coordinator reads them
   * from its blob store at submission (`coordinator/src/blob-inputs.ts:admitModuleBlob`).
   */
  module: { bytes: Uint8Array; sha256: string; blob?: { size: number } }
  args: string[]
  env: Record<string, string>
  redundancy: number
  quorum: number
  maxReplicas: number
  /**
   * How a shard is decided. `all`: only once every dispatched replica has
   * answered (or timed out), unanimously, and any dissent escalates to fresh
   * providers; a fast colluding pair cannot outrun an honest replica.
   * `quorum`: the first `quorum` matching results win; cheaper, but only as
   * safe as the providers are honest.
   */
  decide: DecideRule
  limits: TaskLimits
  /**
   * One entry per shard: the inline bytes, or a blob reference in its stored form
   * (`blobs.ts:encodeStoredRef`; read it with `decodeStoredRef`, `inputDigestOf`, `inputSizeOf`).
   */
  inputs: Uint8Array[]
  /** Absolute deadline, Unix ms; undefined means "the coordinator's default from acceptance". */
  deadline?: number
  /**
   * How the job is paid, for coordinators that settle on a chain: the Escrow
   * job funded for this spec (its `specHash` is {@link jobIdOf} of the spec).
   * Not part of the job id.
   */
  payment?: JobPayment
  /**
   * The owner's public key (`ed25519:<hex>`): only a request signed with it
   * (or the operator token) may cancel the job. Part of the job id, so two
   * owners submitting the same content get two jobs, and neither can cancel
   * the other's. Without it, only the operator can cancel the job.
   */
  owner?: string
}

/** How a shard is decided; see {@link JobSpec.decide}. */
export type DecideRule = 'all' | 'quorum'

/** The on-chain funding a job names. */
export interface JobPayment {
  /** The Escrow's bytes32 job id, `0x`-prefixed. */
  escrowJobId: string
}

/**
 * Validate a job spec as received in JSON.
 *
 * @throws {InvalidJobSpecError} naming every offending field.
 */
export function parseJobSpec(input: unknown): JobSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidJobSpecError([{ field: '(root)', message: 'a job spec must be a JSON object' }])
  }
  const parsed = jobSpecJsonSchema.safeParse(input)
  if (!parsed.success) {
    throw new InvalidJobSpecError(parsed.error.issues.map((i) => ({ field: formatPath(i.path), message: i.message })))
  }
  const json = parsed.data
  const issues: SpecIssue[] = []

  const { wasm, moduleSha } = readModule(json, issues)
  const moduleBlob = 'blob' in json.module ? { size: json.module.size } : undefined
  const inputs = readInputs(json.inputs, issues)
  const redundancy = json.redundancy
  const { quorum, maxReplicas } = readVoting(json, issues)

  let deadline: number | undefined
  if (json.deadline !== undefined) {
    deadline = typeof json.deadline === 'number' ? json.deadline : Date.parse(json.deadline)
  }

  if (issues.length > 0 || wasm === undefined) throw new InvalidJobSpecError(issues)

  const spec: JobSpec = {
    version: 1,
    module:
      moduleBlob === undefined
        ? { bytes: wasm, sha256: moduleSha }
        : { bytes: wasm, sha256: moduleSha, blob: moduleBlob },
    args: json.args,
    env: json.env,
    inputs,
    redundancy,
    quorum,
    maxReplicas,
    decide: json.decide,
    limits: json.limits,
  }
  if (json.name !== undefined) spec.name = json.name
  if (deadline !== undefined) spec.deadline = deadline
  if (json.payment !== undefined) spec.payment = { escrowJobId: json.payment.escrowJobId.toLowerCase() }
  if (json.owner !== undefined) spec.owner = json.owner
  return spec
}

type ParsedJson = z.infer<typeof jobSpecJsonSchema>

/** The module's bytes and digest, with what is wrong with them (and with args and env) added to `issues`. */
function readModule(json: ParsedJson, issues: SpecIssue[]): { wasm: Uint8Array | undefined; moduleSha: string } {
  checkArgsEnv(json, issues)
  const module = json.module
  if ('blob' in module) {
    if (module.size > JOB_BOUNDS.maxModuleBytes) {
      issues.push({
        field: 'module.size',
        message: `is ${module.size} bytes; a module may be at most ${JOB_BOUNDS.maxModuleBytes / MiB} MiB`,
      })
    }
    return { wasm: new Uint8Array(0), moduleSha: module.blob }
  }
  const wasm = fromBase64(module.wasm)
  if (wasm === undefined) issues.push({ field: 'module.wasm', message: 'is not valid base64' })
  else if (wasm.byteLength < 8 || WASM_MAGIC.some((b, i) => wasm[i] !== b)) {
    issues.push({
      field: 'module.wasm',
      message: 'is not a WebAssembly module (it does not start with the "\\0asm" version 1 header)',
    })
  }
  if (wasm !== undefined && wasm.byteLength > JOB_BOUNDS.maxModuleBytes) {
    issues.push({
      field: 'module.wasm',
      message: `is ${wasm.byteLength} bytes; a module may be at most ${JOB_BOUNDS.maxModuleBytes / MiB} MiB`,
    })
  }
  const moduleSha = wasm === undefined ? '' : sha256Hex(wasm)
  if (wasm !== undefined && module.sha256 !== undefined && module.sha256 !== moduleSha) {
    issues.push({ field: 'module.sha256', message: `does not match the module bytes (their sha256 is ${moduleSha})` })
  }
  return { wasm, moduleSha }
}

function checkArgsEnv(json: ParsedJson, issues: SpecIssue[]): void {
  const argsEnvBytes = utf8.encode(JSON.stringify([json.args, json.env])).byteLength
  if (argsEnvBytes > JOB_BOUNDS.maxArgsEnvBytes) {
    issues.push({
      field: 'args',
      message: `args and env take ${argsEnvBytes} bytes together; at most ${JOB_BOUNDS.maxArgsEnvBytes / MiB} MiB`,
    })
  }
}

function readInputs(entries: ParsedJson['inputs'], issues: SpecIssue[]): Uint8Array[] {
  const inputs: Uint8Array[] = []
  entries.forEach((text, i) => {
    if (typeof text !== 'string') {
      inputs.push(encodeStoredRef({ sha256: text.blob, size: text.size }))
      return
    }
    const bytes = fromBase64(text)
    if (bytes === undefined) issues.push({ field: `inputs[${i}]`, message: 'is not valid base64' })
    else if (bytes.byteLength > JOB_BOUNDS.maxInputBytes) {
      issues.push({
        field: `inputs[${i}]`,
        message: `is ${bytes.byteLength} bytes; an inline shard input may be at most ${JOB_BOUNDS.maxInputBytes / MiB} MiB (upload it as a blob, or split it into more shards)`,
      })
    } else if (looksLikeStoredRef(bytes)) {
      issues.push({
        field: `inputs[${i}]`,
        message: 'starts with the bytes reserved for blob references; upload it as a blob',
      })
    } else inputs.push(bytes)
  })
  return inputs
}

/** Quorum and replica cap, defaulted from the redundancy and checked against it. */
function readVoting(json: ParsedJson, issues: SpecIssue[]): { quorum: number; maxReplicas: number } {
  const redundancy = json.redundancy
  // Default quorum is the smallest strict majority: 2 of 3, 3 of 5, 1 of 1.
  const quorum = json.quorum ?? Math.floor(redundancy / 2) + 1
  if (quorum > redundancy) {
    issues.push({ field: 'quorum', message: `must be at most redundancy (${redundancy}), got ${quorum}` })
  } else if (quorum * 2 <= redundancy) {
    issues.push({
      field: 'quorum',
      message: `must be a strict majority of redundancy: more than ${redundancy / 2} (got ${quorum} of ${redundancy})`,
    })
  }
  const maxReplicas = json.maxReplicas ?? Math.min(JOB_BOUNDS.maxReplicas, Math.max(redundancy, 2 * redundancy - 1))
  if (maxReplicas < redundancy) {
    issues.push({ field: 'maxReplicas', message: `must be at least redundancy (${redundancy}), got ${maxReplicas}` })
  }
  return { quorum, maxReplicas }
}

/**
 * The job id: a digest of everything that decides the job's results, so
 * resubmitting the same job (same module, args, env, inputs, voting rules and
 * limits) yields the same id and is idempotent. Name and deadline are
 * bookkeeping and are left out.
 */
export function jobIdOf(spec: JobSpec): string {
  const canonical = JSON.stringify({
    v: 1,
    module: spec.module.sha256,
    args: spec.args,
    env: Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    // A blob reference enters with the blob's digest: inline or by reference, the same job has the same id.
    inputs: spec.inputs.map(inputDigestOf),
    redundancy: spec.redundancy,
    quorum: spec.quorum,
    maxReplicas: spec.maxReplicas,
    // Only the non-default rule enters the id, so ids of jobs written before the rule existed stay the same.
    ...(spec.decide === 'quorum' ? { decide: 'quorum' } : {}),
    limits: [
      spec.limits.timeoutMs,
      spec.limits.memoryMiB,
      spec.limits.outputBytes,
      spec.limits.stderrBytes,
      spec.limits.fuel,
    ],
    // Only when present, so the ids of jobs without an owner stay what they were.
    ...(spec.owner === undefined ? {} : { owner: spec.owner }),
  })
  return sha256Hex(canonical)
}

/**
 * The seed every replica of one shard gets for `random_get`: the same on
 * every provider, different for every shard.
 */
export function shardSeed(jobId: string, shardIndex: number): string {
  return sha256Hex(`quorate:seed:v1\n${jobId}\n${shardIndex}`)
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)'
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}
