/**
 * A structural parse of a WebAssembly module: section boundaries, types,
 * imports, functions, tables, memories, globals, exports, start and code
 * bodies. Enough to check a module against Quorate's sandbox rules and to
 * rewrite it; instruction-level decoding lives in opcodes.ts and meter-body.ts.
 */
import { skipConstExpr } from './const-expr.ts'
import { Reader, WasmFormatError } from './reader.ts'

export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const

// Position of each known section in the order the spec requires (tag sits between memory and global).
const SECTION_ORDER: Record<number, number> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  13: 6,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
}

export const ValType = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
} as const

const VALTYPE_NAMES: Record<number, string> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
}

export function valTypeName(type: number): string {
  return VALTYPE_NAMES[type] ?? `0x${type.toString(16)}`
}

export interface FuncType {
  params: number[]
  results: number[]
}

export interface Limits {
  min: number
  max: number | undefined
  shared: boolean
  memory64: boolean
}

export type ImportDesc =
  | { kind: 'func'; typeIndex: number }
  | { kind: 'table'; refType: number; limits: Limits }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; valType: number; mutable: boolean }
  | { kind: 'tag' }

export type Import = { module: string; name: string } & ImportDesc

export interface Export {
  name: string
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag'
  index: number
}

export interface Section {
  id: number
  /** Offset of the section id byte. */
  start: number
  /** Offset of the first payload byte. */
  payloadStart: number
  /** Offset just past the section. */
  end: number
}

export interface TableDef {
  refType: number
  limits: Limits
}

export interface CodeBody {
  /** Offset of the body's first byte (its local declarations), after the size prefix. */
  start: number
  end: number
}

export interface ParsedModule {
  bytes: Uint8Array
  sections: Section[]
  types: FuncType[]
  imports: Import[]
  importedFuncs: number
  importedTables: number
  importedMemories: number
  importedGlobals: number
  /** Type index of each defined function. */
  functions: number[]
  tables: TableDef[]
  memories: Limits[]
  /** Number of globals the module defines. */
  definedGlobals: number
  exports: Export[]
  start: number | undefined
  code: CodeBody[]
  /** Functions referenced from element segments and global initialisers (`ref.func`): callable indirectly. */
  referencedFuncs: Set<number>
}

const EXPORT_KINDS = ['func', 'table', 'memory', 'global', 'tag'] as const

/**
 * Parse a module's structure.
 *
 * @throws {WasmFormatError} with a byte-derived message when the module is malformed.
 */
export function parseModule(bytes: Uint8Array): ParsedModule {
  if (bytes.byteLength < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new WasmFormatError('not a WebAssembly module (missing the "\\0asm" magic number)')
  }
  if (bytes[4] !== 0x01 || bytes[5] !== 0x00 || bytes[6] !== 0x00 || bytes[7] !== 0x00) {
    throw new WasmFormatError('unsupported WebAssembly binary version (only version 1 is supported)')
  }
  const m: ParsedModule = {
    bytes,
    sections: [],
    types: [],
    imports: [],
    importedFuncs: 0,
    importedTables: 0,
    importedMemories: 0,
    importedGlobals: 0,
    functions: [],
    tables: [],
    memories: [],
    definedGlobals: 0,
    exports: [],
    start: undefined,
    code: [],
    referencedFuncs: new Set(),
  }
  const r = new Reader(bytes, 8)
  let lastOrder = 0
  while (!r.done) {
    const start = r.pos
    const id = r.u8()
    const size = r.u32()
    const payloadStart = r.pos
    if (payloadStart + size > bytes.byteLength) r.fail(`section ${id} runs past the end of the module`)
    const end = payloadStart + size
    if (id !== SectionId.custom) {
      const order = SECTION_ORDER[id]
      if (order === undefined) return r.fail(`unknown section id ${id}`)
      if (order <= lastOrder) r.fail(`section ${id} is out of order or repeated`)
      lastOrder = order
    }
    m.sections.push({ id, start, payloadStart, end })
    const s = new Reader(bytes, payloadStart, end)
    parseSection(m, id, s)
    if (s.pos !== end) s.fail(`section ${id} has trailing bytes`)
    r.pos = end
  }
  if (m.functions.length !== m.code.length) {
    throw new WasmFormatError(
      `function and code section sizes differ (${m.functions.length} functions, ${m.code.length} bodies)`,
    )
  }
  return m
}

function parseSection(m: ParsedModule, id: number, r: Reader): void {
  switch (id) {
    case SectionId.custom:
      r.name()
      r.pos = r.end
      return
    case SectionId.type:
      for (let n = r.u32(), i = 0; i < n; i++) {
        const form = r.u8()
        if (form !== 0x60) r.fail(`type ${i} is not a function type (form 0x${form.toString(16)})`)
        const params = vec(r, () => valType(r))
        const results = vec(r, () => valType(r))
        m.types.push({ params, results })
      }
      return
    case SectionId.import:
      parseImports(m, r)
      return
    case SectionId.function:
      for (let n = r.u32(), i = 0; i < n; i++) {
        const typeIndex = r.u32()
        if (typeIndex >= m.types.length) r.fail(`function ${i} names unknown type ${typeIndex}`)
        m.functions.push(typeIndex)
      }
      return
    case SectionId.table:
      for (let n = r.u32(), i = 0; i < n; i++) {
        if (r.bytes[r.pos] === 0x40) r.fail('tables with initialiser expressions are not supported')
        const refType = valType(r)
        m.tables.push({ refType, limits: limits(r) })
      }
      return
    case SectionId.memory:
      for (let n = r.u32(), i = 0; i < n; i++) m.memories.push(limits(r))
      return
    case SectionId.global:
      for (let n = r.u32(), i = 0; i < n; i++) {
        valType(r)
        if (r.u8() > 1) r.fail('bad global mutability flag')
        skipConstExpr(r, m.referencedFuncs)
        m.definedGlobals++
      }
      return
    case SectionId.element:
      parseElements(m, r)
      return
    case SectionId.export:
      for (let n = r.u32(), i = 0; i < n; i++) {
        const name = r.name()
        const kind = EXPORT_KINDS[r.u8()]
        if (kind === undefined) r.fail(`export ${name} has an unknown kind`)
        m.exports.push({ name, kind, index: r.u32() })
      }
      return
    case SectionId.start:
      m.start = r.u32()
      return
    case SectionId.code:
      for (let n = r.u32(), i = 0; i < n; i++) {
        const size = r.u32()
        const start = r.pos
        r.skip(size)
        m.code.push({ start, end: start + size })
      }
      return
    case SectionId.tag:
      r.fail('the exception-handling proposal (tag section) is not supported')
      return
    default:
      // data, data count: copied through untouched.
      r.pos = r.end
  }
}

/** The import section: each import's module, name and kind, counting imports of each kind. */
function parseImports(m: ParsedModule, r: Reader): void {
  for (let n = r.u32(), i = 0; i < n; i++) {
    const module = r.name()
    const name = r.name()
    const kind = r.u8()
    switch (kind) {
      case 0x00: {
        const typeIndex = r.u32()
        if (typeIndex >= m.types.length) r.fail(`import ${module}.${name} names unknown type ${typeIndex}`)
        m.imports.push({ module, name, kind: 'func', typeIndex })
        m.importedFuncs++
        break
      }
      case 0x01: {
        const refType = valType(r)
        m.imports.push({ module, name, kind: 'table', refType, limits: limits(r) })
        m.importedTables++
        break
      }
      case 0x02:
        m.imports.push({ module, name, kind: 'memory', limits: limits(r) })
        m.importedMemories++
        break
      case 0x03: {
        const type = valType(r)
        const mutable = r.u8()
        if (mutable > 1) r.fail('bad global mutability flag')
        m.imports.push({ module, name, kind: 'global', valType: type, mutable: mutable === 1 })
        m.importedGlobals++
        break
      }
      case 0x04:
        r.u8()
        r.u32()
        m.imports.push({ module, name, kind: 'tag' })
        break
      default:
        r.fail(`import ${module}.${name} has unknown kind ${kind}`)
    }
  }
}

/** The element section: only checked and skipped, noting the functions it makes callable indirectly. */
function parseElements(m: ParsedModule, r: Reader): void {
  for (let n = r.u32(), i = 0; i < n; i++) {
    const flags = r.u32()
    if (flags > 7) r.fail(`unknown element segment flags ${flags}`)
    if (flags === 2 || flags === 6) r.u32() // table index
    if ((flags & 1) === 0) skipConstExpr(r) // offset
    if (flags & 4) {
      if (flags !== 4) valType(r)
      for (let k = r.u32(), j = 0; j < k; j++) skipConstExpr(r, m.referencedFuncs)
    } else {
      if (flags !== 0 && r.u8() !== 0x00) r.fail('unknown element kind')
      for (let k = r.u32(), j = 0; j < k; j++) m.referencedFuncs.add(r.u32())
    }
  }
}

function vec<T>(r: Reader, item: () => T): T[] {
  const n = r.u32()
  if (n > r.end - r.pos) r.fail('vector length exceeds its section')
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(item())
  return out
}

function valType(r: Reader): number {
  const type = r.u8()
  if (VALTYPE_NAMES[type] === undefined) r.fail(`unsupported value type 0x${type.toString(16)}`)
  return type
}

function limits(r: Reader): Limits {
  const flags = r.u8()
  if (flags > 7) r.fail(`unknown limits flags 0x${flags.toString(16)}`)
  const memory64 = (flags & 0x04) !== 0
  const read = () => (memory64 ? r.signed(64) : r.u32())
  const min = read()
  const max = flags & 0x01 ? read() : undefined
  return { min, max, shared: (flags & 0x02) !== 0, memory64 }
}

/** The function type of function `index` (imported or defined). */
export function funcTypeOf(m: ParsedModule, index: number): FuncType | undefined {
  if (index < m.importedFuncs) {
    let seen = 0
    for (const imp of m.imports) {
      if (imp.kind !== 'func') continue
      if (seen++ === index) return m.types[imp.typeIndex]
    }
    return undefined
  }
  const typeIndex = m.functions[index - m.importedFuncs]
  return typeIndex === undefined ? undefined : m.types[typeIndex]
}

export function formatFuncType(t: FuncType): string {
  return `(${t.params.map(valTypeName).join(', ')}) -> (${t.results.map(valTypeName).join(', ')})`
}

export { WasmFormatError }
