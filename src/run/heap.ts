import { createRequire } from "node:module";

/**
 * When the runner collects the heap: after a stage ran, before its outputs are encoded. A stage's
 * inputs are decoded into values of its own (a table's strings: more than its artifact's size);
 * once the stage has returned, the runner drops them, but the collector has no reason to run
 * before the outputs are spelled into their bytes (as large again), so the process held inputs,
 * outputs and encoded outputs at once. Collecting first gives the inputs' memory back, for the
 * stages whose inputs were large: a full collection of a heap of a few hundred MB takes tens of
 * milliseconds, next to the seconds such a stage runs.
 */
export interface HeapPolicy {
  /**
   * Collect after a stage whose inputs' artifacts total at least this many bytes, or whose run grew
   * the heap in use by as much (load.csv reads no artifact, and leaves its parse's garbage).
   */
  collectAfterInputs: number;
  /** The heap in use, in bytes. */
  used(): number;
  /** One full collection; false where the runtime offers none. */
  collect(): boolean;
  /**
   * Outputs whose header is at least `from` bytes give back their strings as they are encoded,
   * with a collection every `every` bytes (codec.ts's Release).
   */
  release: { from: number; every: number };
}

export const DEFAULT_HEAP: HeapPolicy = {
  collectAfterInputs: 32 * 1024 * 1024,
  used: heapInUse,
  collect: collectGarbage,
  release: { from: 32 * 1024 * 1024, every: 16 * 1024 * 1024 },
};

/** V8's own count (process.memoryUsage reads /proc as well: 20x the cost, three times a stage). */
function heapInUse(): number {
  return v8().getHeapStatistics().used_heap_size;
}

let v8Module: typeof import("node:v8") | undefined;
/** node:v8, loaded once a stage runs or collects (not at start-up). */
function v8(): typeof import("node:v8") {
  v8Module ??= createRequire(import.meta.url)("node:v8") as typeof import("node:v8");
  return v8Module;
}

/** undefined: not asked for yet; null: the runtime gives none. */
let collector: (() => void) | null | undefined;

/** A full garbage collection, if this runtime allows one. */
export function collectGarbage(): boolean {
  if (collector === undefined) collector = fullCollector();
  if (!collector) return false;
  collector();
  return true;
}

/**
 * V8's `gc`: the global one under `node --expose-gc`; otherwise taken from a context created with
 * the flag set for that moment (the flag only decides whether a new context gets `gc`, and is unset
 * again, so no other context gets one, this process's global included).
 */
function fullCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === "function") return exposed as () => void;
  try {
    const vm = createRequire(import.meta.url)("node:vm") as typeof import("node:vm");
    v8().setFlagsFromString("--expose-gc");
    try {
      const gc = vm.runInNewContext("gc") as unknown;
      return typeof gc === "function" ? (gc as () => void) : null;
    } finally {
      v8().setFlagsFromString("--no-expose-gc");
    }
  } catch {
    return null;
  }
}
