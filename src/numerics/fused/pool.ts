import { Worker } from "node:worker_threads";
import { type Call, KERNEL_NAMES } from "./abi.js";

/**
 * Runs batches of kernel calls on several threads at once: the calling thread and `threads - 1`
 * workers, every one with its own instance of the kernels over one shared memory. A batch is a list
 * of independent calls (each on its own rows and buffers); `run` returns when all have finished, so
 * callers stay synchronous (TF.js ops are). Which thread runs which call does not matter: the calls
 * never touch each other's memory, and callers reduce their results in call order.
 *
 * Coordination is a small shared Int32Array: a round counter the workers wait on, the next call to
 * take, the number done, the number in this round, and an error flag; then the call table.
 */
const ROUND = 0;
const NEXT = 1;
const DONE = 2;
const COUNT = 3;
const FAILED = 4;
const TABLE = 8;
/** A call: the function's index, its argument count, and up to 30 arguments. */
export const SLOT = 32;
const MAX_CALLS = 1024;
/** Set between rounds so that a late worker's `take` can never land on a call of the next round. */
const CLOSED = 1 << 30;

// The workers' code, evaluated in each worker (CommonJS: `eval` workers have no module resolution).
const WORKER = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => exports[n]);
const c = new Int32Array(control);
let round = 0;
for (;;) {
  Atomics.wait(c, ${ROUND}, round);
  round = Atomics.load(c, ${ROUND});
  for (;;) {
    const j = Atomics.add(c, ${NEXT}, 1);
    if (j >= Atomics.load(c, ${COUNT})) break;
    const at = ${TABLE} + j * ${SLOT};
    try {
      fns[c[at]](...c.subarray(at + 2, at + 2 + c[at + 1]));
    } catch {
      Atomics.store(c, ${FAILED}, 1);
    }
    if (Atomics.add(c, ${DONE}, 1) + 1 === Atomics.load(c, ${COUNT})) Atomics.notify(c, ${DONE});
  }
}
`;

export class Pool {
  private readonly control = new Int32Array(new SharedArrayBuffer((TABLE + MAX_CALLS * SLOT) * 4));
  private readonly workers: Worker[] = [];

  constructor(
    module: object,
    private readonly memory: { readonly buffer: ArrayBufferLike },
    private readonly local: Record<string, (...args: number[]) => void>,
    readonly threads: number,
  ) {
    Atomics.store(this.control, NEXT, CLOSED);
    for (let i = 1; i < threads; i++) {
      const w = new Worker(WORKER, {
        eval: true,
        workerData: { module, memory, control: this.control.buffer, names: KERNEL_NAMES },
      });
      w.unref(); // waiting workers never keep the process alive
      this.workers.push(w);
    }
  }

  /** Runs the calls, on every thread of the pool; throws after all have finished if one failed. */
  run(calls: readonly Call[]): void {
    for (let from = 0; from < calls.length; from += MAX_CALLS)
      this.round(calls.slice(from, from + MAX_CALLS));
  }

  /**
   * The first buffer += each other one, element by element in order: ((g0 + g1) + g2) + ... (a
   * float32 sum; JavaScript's double sum of two floats rounds to the same float).
   */
  sum(offsets: readonly number[], n: number): void {
    const out = new Float32Array(this.memory.buffer, offsets[0], n);
    for (const at of offsets.slice(1)) {
      const part = new Float32Array(this.memory.buffer, at, n);
      for (let j = 0; j < n; j++) out[j] = out[j]! + part[j]!;
    }
  }

  private round(calls: readonly Call[]): void {
    const c = this.control;
    encodeCalls(calls, c, TABLE);
    Atomics.store(c, COUNT, calls.length);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, FAILED, 0);
    Atomics.store(c, NEXT, 0); // last: from here on, calls may be taken
    Atomics.add(c, ROUND, 1);
    Atomics.notify(c, ROUND);
    let error: unknown;
    for (;;) {
      const j = Atomics.add(c, NEXT, 1);
      if (j >= calls.length) break;
      try {
        this.local[calls[j]!.fn]!(...calls[j]!.args.map(Number));
      } catch (e) {
        error ??= e;
      }
      Atomics.add(c, DONE, 1);
    }
    for (let done = Atomics.load(c, DONE); done < calls.length; done = Atomics.load(c, DONE))
      Atomics.wait(c, DONE, done);
    Atomics.store(c, NEXT, CLOSED);
    if (error) throw error;
    if (Atomics.load(c, FAILED)) throw new Error("a fused kernel failed in a worker thread");
  }
}

/**
 * Writes calls into a table from word `from` on, SLOT words each: the kernel's number (its place in
 * KERNEL_NAMES), the argument count, the arguments (offsets above 2^31 wrap: both sides read them
 * back as unsigned).
 */
export function encodeCalls(calls: readonly Call[], table: Int32Array, from: number): void {
  calls.forEach((call, j) => {
    if (call.args.length > SLOT - 2) throw new Error(`${call.fn}: too many arguments for the pool`);
    const at = from + j * SLOT;
    table[at] = KERNEL_NAMES.indexOf(call.fn);
    table[at + 1] = call.args.length;
    call.args.forEach((a, i) => (table[at + 2 + i] = Number(a)));
  });
}
