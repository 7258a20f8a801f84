/** Defaults and fixed names shared by the pool and its threads. */

/** Import module under which Quorate hands a module its (capped) linear memory. */
export const HOST_MODULE = 'quorate'
/** Export through which the host sets and reads the fuel counter (a mutable i64 global). */
export const FUEL_EXPORT = '__quorate_fuel'
/** Export through which the host reads the remaining stack budget (a mutable i32 global). */
export const STACK_EXPORT = '__quorate_stack'
/** Export of the module's former start function, which Quorate calls after setting the fuel. */
export const START_EXPORT = '__quorate_start'
/** Exports through which the host sets the fuel not yet handed over, the slice size and the task's slot (globals). */
export const RESERVE_EXPORT = '__quorate_reserve'
export const SLICE_EXPORT = '__quorate_slice'
export const SLOT_EXPORT = '__quorate_slot'
/** Import (HOST_MODULE) of the pool's shared memory of slot states, where a budget check sees a stop request. */
export const CONTROL_IMPORT = 'control'
/**
 * Fuel handed to a running module's counter at a time: when a slice runs out, the module's budget check
 * moves the next one over from the reserve, or, if the pool has cancelled the task, stops it there. About
 * 1 ms of the fastest code measured and 50 ms of an interpreter, so a cancel takes effect within that.
 */
export const FUEL_SLICE = 2 ** 25
/**
 * How long a cancelled task may take to reach its next slice before its thread is terminated instead:
 * many slices even of an interpreter on a loaded machine; longer only in a host call.
 */
export const STOP_GRACE_MS = 1000

/** How many compiled modules the pool keeps, least recently used first out. */
export const MODULE_CACHE_SIZE = 64
/** Batches handed to each thread at once: the one it runs and the one it starts next. */
export const PIPELINE_DEPTH = 2
/** Most tasks in one batch (one message each way between the pool and a thread). */
export const MAX_BATCH = 32
/**
 * Work a batch should carry, in milliseconds of thread time: tasks far
 * shorter than this go several to a message, because for a no-op task the
 * hand-off costs more than the task; longer tasks go one at a time, so no
 * task waits in a batch behind another while a thread is free.
 */
export const BATCH_WORK_MS = 1
/** Tasks that may wait per thread before `run` rejects with QUEUE_FULL. */
export const QUEUE_PER_THREAD = 64
/** Stack of each worker thread, in MiB: far above the deterministic stack budget, see instrument.ts. */
export const THREAD_STACK_MB = 16
/** Largest table a module may grow to, in entries. */
export const TABLE_MAX_ENTRIES = 1_000_000
/**
 * Deterministic stack budget, in abstract bytes: each call of a function
 * that can recurse charges
 * STACK_FRAME_BASE_BYTES + 8 × (params + locals + max operand stack height).
 * Recursion traps with call_stack_exhausted at the same depth everywhere,
 * long before the thread's real THREAD_STACK_MB stack runs out (measured on
 * V8 13: a frame takes about 59 bytes + 8.5 per local + 4.3 per stack slot,
 * so the real stack used at the budget's limit stays under ~2.2 MiB).
 */
export const STACK_BUDGET_BYTES = 2 * 1024 * 1024
export const STACK_FRAME_BASE_BYTES = 96
/**
 * Functions that cannot recurse are not charged to the stack budget: each is
 * on the stack at most once. If their frames (estimated as above) add up to
 * more than this, every function is charged instead.
 */
export const NONRECURSIVE_STACK_BYTES = 4 * 1024 * 1024

/**
 * States of a task's slot, shared by the pool and the thread. Both leave WAITING only by
 * compare-and-exchange, so a task is either cancelled before it starts or started, never both.
 */
export const SLOT_WAITING = 0
export const SLOT_CANCELLED = 1
export const SLOT_STARTED = 2
/** The pool wants the started task stopped: its next budget check past a slice traps (STARTED → STOPPING). */
export const SLOT_STOPPING = 3
/** The thread has finished the task, whichever way it ended. */
export const SLOT_DONE = 4
