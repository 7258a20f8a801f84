/** A frame body whose header is `header` verbatim, as a hostile peer would write it. */
export function rawBody(tag: number, header: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const varint: number[] = []
  let n = json.byteLength
  while (n >= 0x80) {
    varint.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  varint.push(n)
  const body = new Uint8Array(1 + varint.length + json.byteLength + payload.byteLength)
  body[0] = tag
  body.set(varint, 1)
  body.set(json, 1 + varint.length)
  body.set(payload, 1 + varint.length + json.byteLength)
  return body
}

/** The tag, parsed header and payload of a frame body built by the encoder. */
export function splitBody(body: Uint8Array): { tag: number; header: Record<string, unknown>; payload: Uint8Array } {
  let length = 0
  let scale = 1
  let at = 1
  for (;;) {
    const byte = body[at++] as number
    length += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) break
    scale *= 128
  }
  const header = JSON.parse(new TextDecoder().decode(body.subarray(at, at + length))) as Record<string, unknown>
  return { tag: body[0] as number, header, payload: body.subarray(at + length) }
}
