// Constant expressions (global initialisers, segment offsets): checked and skipped, never evaluated.
import type { Reader } from './reader.ts'

/** Skip a constant expression (initialisers, offsets), extended-const included, noting `ref.func` targets. */
export function skipConstExpr(r: Reader, refs?: Set<number>): void {
  for (;;) {
    const op = r.u8()
    switch (op) {
      case 0x0b:
        return
      case 0x41:
        r.signed(32)
        break
      case 0x42:
        r.signed(64)
        break
      case 0x43:
        r.skip(4)
        break
      case 0x44:
        r.skip(8)
        break
      case 0x23:
        r.u32()
        break
      case 0xd2:
        refs?.add(r.u32())
        break
      case 0xd0:
        r.u8()
        break
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break
      default:
        r.fail(`unsupported instruction 0x${op.toString(16)} in a constant expression`)
    }
  }
}
