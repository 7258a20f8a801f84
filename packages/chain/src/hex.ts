/** Accepts `0x`-prefixed or bare 64-hex (the protocol's sha256 hex) and returns lowercase `0x` bytes32, or undefined. */
export function toBytes32(value: string): string | undefined {
  if (typeof value !== 'string') return undefined
  const hex = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
  return /^[0-9a-fA-F]{64}$/.test(hex) ? `0x${hex.toLowerCase()}` : undefined
}
