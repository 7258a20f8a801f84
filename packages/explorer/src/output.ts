/** The eight bytes every PNG file starts with. */
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** Decode only as much base64 as needed for the first `n` bytes. */
export function headBytes(b64: string, n: number): Uint8Array {
  const chars = Math.ceil(n / 3) * 4
  return fromBase64(b64.slice(0, chars)).subarray(0, n)
}

/** Whether a base64 output is a PNG image (by its magic bytes, not by guessing). */
export function isPngBase64(b64: string | undefined): boolean {
  if (b64 === undefined || b64.length < 12) return false
  try {
    const head = headBytes(b64, PNG_SIGNATURE.length)
    return PNG_SIGNATURE.every((byte, i) => head[i] === byte)
  } catch {
    return false
  }
}

/** PNG width and height from the IHDR chunk, when the output is a PNG. */
export function pngSize(b64: string): { width: number; height: number } | undefined {
  if (!isPngBase64(b64)) return undefined
  const head = headBytes(b64, 24)
  if (head.length < 24) return undefined
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

export type OutputPreview =
  | { kind: 'empty'; bytes: 0 }
  | { kind: 'png'; bytes: number; dataUrl: string; width?: number; height?: number }
  | { kind: 'text'; bytes: number; text: string; truncated: boolean }
  | { kind: 'binary'; bytes: number; hex: string }

/** Byte length of a base64 string without decoding it. */
export function base64Length(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0
  return Math.floor((b64.length * 3) / 4) - pad
}

/** How to show one shard's output: an image, a text excerpt, or a hex excerpt. */
export function previewOutput(b64: string, maxText = 240): OutputPreview {
  const bytes = base64Length(b64)
  if (bytes === 0) return { kind: 'empty', bytes: 0 }
  if (isPngBase64(b64)) {
    const preview: OutputPreview = { kind: 'png', bytes, dataUrl: `data:image/png;base64,${b64}` }
    const size = pngSize(b64)
    if (size !== undefined) Object.assign(preview, size)
    return preview
  }
  const head = headBytes(b64, Math.min(bytes, maxText))
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head)
  // Mostly printable → text; otherwise show the bytes.
  let printable = 0
  for (const ch of text) if (ch === '\n' || ch === '\t' || ch === '\r' || (ch >= ' ' && ch !== '\ufffd')) printable++
  if (printable >= text.length * 0.9) return { kind: 'text', bytes, text, truncated: bytes > head.length }
  const hex = Array.from(head.subarray(0, 32), (b) => b.toString(16).padStart(2, '0')).join(' ')
  return { kind: 'binary', bytes, hex }
}
