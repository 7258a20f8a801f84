import { writeSync } from 'node:fs'
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino'
import { fromEnv } from './args.ts'
import { UsageError } from './output.ts'

export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

/** The `--log-level` / `--log-format` flags, for parseArgs. */
export const logFlags = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const

export const logFlagsHelp = `  --log-level LEVEL    trace, debug, info, warn, error, fatal or silent (env QUORATE_LOG_LEVEL, default info)
  --log-format FORMAT  pretty (one readable line per entry), json (pino's JSON lines) or auto: pretty
                       when stderr is a terminal, JSON otherwise (env QUORATE_LOG_FORMAT, default auto)`

/** Read and check the log flags (then QUORATE_LOG_LEVEL / QUORATE_LOG_FORMAT). */
export function logOptionsOf(values: { 'log-level'?: string | undefined; 'log-format'?: string | undefined }): {
  level: LevelWithSilent
  format: LogFormat
} {
  const level = fromEnv(values['log-level'], 'QUORATE_LOG_LEVEL', 'info')
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${level}")`)
  }
  const format = fromEnv(values['log-format'], 'QUORATE_LOG_FORMAT', 'auto')
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')} (got "${format}")`)
  }
  return { level: level as LevelWithSilent, format: format as LogFormat }
}

/** A process's logger on stderr: readable lines on a terminal, JSON lines for machines. */
export function createCliLogger(name: string, options: { level: LevelWithSilent; format: LogFormat }): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stderr.isTTY === true)
  const destination: DestinationStream = pretty
    ? prettyStream((text) => writeSync(2, text), process.stderr.isTTY === true)
    : pino.destination({ dest: 2, sync: true })
  return pino({ name, level: options.level }, destination)
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' }
/** Fields every entry has, or that the line's head already shows. */
const HEAD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg', 'err', 'v'])

/**
 * A pino destination that turns each JSON line into one readable line:
 * `12:04:05.123 INFO  coordinator/jobs  job submitted jobId=… shards=9`, with
 * an error's stack below it. Lines that are not pino's JSON pass through.
 */
export function prettyStream(write: (text: string) => void, colour = false): DestinationStream {
  return {
    write(line: string) {
      write(prettyLine(line, colour))
    },
  }
}

export function prettyLine(line: string, colour = false): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`
  }
  const level = typeof entry.level === 'number' ? entry.level : 30
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : ''
  const levelName = (LEVEL_NAMES[level] ?? String(level)).padEnd(5)
  const source = [entry.name, entry.component].filter((p) => typeof p === 'string').join('/')
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HEAD_FIELDS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldText(value)}`)
  const head = colour ? `\x1b[${LEVEL_COLOURS[level] ?? '0'}m${levelName}\x1b[0m` : levelName
  let text = `${time} ${head} ${source.replace(/^quorate:/, '')}  ${String(entry.msg ?? '')}`
  if (fields.length > 0) text += ` ${fields.join(' ')}`
  const err = entry.err as { message?: unknown; stack?: unknown } | undefined
  if (err !== undefined && typeof err === 'object') {
    const stack = typeof err.stack === 'string' ? err.stack : String(err.message ?? '')
    text += `\n    ${stack.split('\n').join('\n    ')}`
  }
  return `${text}\n`
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}
