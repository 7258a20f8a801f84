/**
 * What a shard's output is, for `results` to show it: text it can print
 * whole, or binary it summarises (size and a guessed type) instead of
 * writing raw bytes to a terminal. Outputs come from providers, so text is
 * shown with control characters made visible: no escape sequence in an
 * output can move the cursor or retitle the terminal.
 */
export type OutputKind = { kind: 'text'; text: string } | { kind: 'binary'; type: string }

/** Share of control characters (besides tab, newline, carriage return) above which text is called binary. */
const MAX_CONTROL_SHARE = 0.05

export function describeOutput(bytes: Uint8Array): OutputKind {
  // A PPM's header is text and its pixels may happen to decode: the header decides.
  const netpbm = netpbmType(bytes)
  if (netpbm !== undefined) return { kind: 'binary', type: netpbm }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return { kind: 'binary', type: guessBinaryType(bytes) }
  }
  const controls = text.match(CONTROL)?.length ?? 0
  if (text.includes('\0') || controls > Math.max(0, text.length * MAX_CONTROL_SHARE)) {
    return { kind: 'binary', type: guessBinaryType(bytes) }
  }
  return { kind: 'text', text: controls === 0 ? text : text.replace(CONTROL, visible) }
}

// C0 controls except tab, newline and carriage return; DEL; C1 controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job
const CONTROL = /[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]/g

function visible(char: string): string {
  return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`
}

const MAGIC: ReadonlyArray<{ bytes: readonly number[]; type: string }> = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], type: 'PNG image' },
  { bytes: [0xff, 0xd8, 0xff], type: 'JPEG image' },
  { bytes: [0x47, 0x49, 0x46, 0x38], type: 'GIF image' },
  { bytes: [0x1f, 0x8b], type: 'gzip data' },
  { bytes: [0x42, 0x5a, 0x68], type: 'bzip2 data' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], type: 'zip archive' },
  { bytes: [0x25, 0x50, 0x44, 0x46], type: 'PDF document' },
  { bytes: [0x00, 0x61, 0x73, 0x6d], type: 'WebAssembly module' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], type: 'ELF executable' },
  { bytes: [...'SQLite format 3'].map((c) => c.charCodeAt(0)), type: 'SQLite database' },
]

/** A type from the first bytes ("PPM image, 256×256"), or "binary" when none is recognised. */
export function guessBinaryType(bytes: Uint8Array): string {
  const netpbm = netpbmType(bytes)
  if (netpbm !== undefined) return netpbm
  for (const { bytes: magic, type } of MAGIC) {
    if (magic.length <= bytes.length && magic.every((b, i) => bytes[i] === b)) return type
  }
  return 'binary'
}

const NETPBM: Record<string, string> = { P4: 'PBM image', P5: 'PGM image', P6: 'PPM image' }

/** Binary PBM/PGM/PPM: "P6", whitespace, width, height; the size is worth showing. */
function netpbmType(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64))
  const match = /^(P[456])\s+(\d{1,6})\s+(\d{1,6})\s/.exec(head)
  if (match === null) return undefined
  return `${NETPBM[match[1] as string]}, ${match[2]}×${match[3]}`
}

/** A byte count as a person reads it: "812 bytes", "3.1 KiB", "2.0 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`
  const units = ['KiB', 'MiB', 'GiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
