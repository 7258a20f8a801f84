// The slice of the WebAssembly JS API this package uses. The repo's strict
// base config loads no DOM lib and @types/node does not declare it. Internal
// only: no exported type of this package mentions these names.
declare namespace WebAssembly {
  type ImportValue = ((...args: never[]) => unknown) | Global | Memory | Table | number
  type ModuleImports = Record<string, ImportValue>
  type Imports = Record<string, ModuleImports>
  type ExportValue = ((...args: never[]) => unknown) | Global | Memory | Table
  type Exports = Record<string, ExportValue>

  class Module {
    constructor(bytes: BufferSource)
  }
  class Instance {
    constructor(module: Module, imports?: Imports)
    readonly exports: Exports
  }
  interface MemoryDescriptor {
    initial: number
    maximum?: number
    shared?: boolean
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor)
    readonly buffer: ArrayBuffer
    grow(delta: number): number
  }
  class Table {
    readonly length: number
    set(index: number, value: ExportValue | null): void
  }
  interface GlobalDescriptor {
    value: 'i32' | 'i64' | 'f32' | 'f64'
    mutable?: boolean
  }
  class Global {
    constructor(descriptor: GlobalDescriptor, value?: number | bigint)
    value: number | bigint
  }
  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}
  type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer
  function validate(bytes: BufferSource): boolean
  function compile(bytes: BufferSource): Promise<Module>
  function instantiate(module: Module, imports?: Imports): Promise<Instance>
}
