import type { Readable } from 'node:stream'

/**
 * Reads a child's stdout as JSON lines: each whole line is parsed and handed to `onEvent`, a line cut
 * across chunks waits for its end. For peer scripts and bench helpers that report one event a line.
 */
export function readJsonLines(stream: Readable, onEvent: (event: Record<string, unknown>) => void): void {
  let buffer = ''
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      onEvent(JSON.parse(line) as Record<string, unknown>)
    }
  })
}
