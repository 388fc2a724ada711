import { UserError } from "../../core/diagnostic.js";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { kernelsPath } from "../../runtime/kernels-build.js";
import { Pool } from "./pool.js";

/**
 * rnnp's fused recurrent kernels: `kernels/rnn.ts`, compiled by `npm run build` to WebAssembly with
 * SIMD and shared memory (`dist/kernels/rnn.wasm`). Loaded once per process, with a pool of threads
 * that share the memory. The memory holds two kinds of buffers: regions that outlive a call (what a
 * layer's backward pass needs from its forward pass, kept in place instead of copied out and back),
 * allocated and released explicitly; and a call's scratch, laid out afresh above the highest live
 * region (calls are synchronous and never overlap). Where a buffer sits never changes a result.
 */
type Ptr = number;
type I = number;
// Node's WebAssembly global, typed here (TypeScript declares it only with the DOM library).
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
    Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  };
};

export interface KernelExports {
  heapBase(): Ptr;
  gemm(
    M: I,
    N: I,
    K: I,
    a: Ptr,
    ars: I,
    acs: I,
    b: Ptr,
    ldb: I,
    c: Ptr,
    ldc: I,
    acc: boolean,
  ): void;
}

/** The kernels the pool may run, by name (a call names one and gives its arguments). */
export const KERNEL_NAMES = [
  "lstmForward",
  "lstmBackward",
  "gruForward",
  "gruBackward",
  "simpleForward",
  "simpleBackward",
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** Float32 buffers of one call, by name: their offsets in the module's memory. */
export type Layout<K extends string> = Record<K, Ptr>;

/** Buffers that outlive a call, until released. */
export type Region<K extends string> = Layout<K> & { end: Ptr; release(): void };

/** Bytes of n floats, rounded up to 16 (SIMD loads). */
const aligned = (floats: number): number => Math.ceil((floats * 4) / 16) * 16;

/** Matches the module's declared maximum (kernels script): 4 GiB of address space, reserved, not used. */
const MAX_PAGES = 65536;

/** A layer whose sequences need more than WebAssembly's 4 GiB (its activations are kept for BPTT). */
export class KernelMemoryExceeded extends UserError {
  constructor(bytes: number) {
    super(
      `a recurrent layer needs ${(bytes / 2 ** 30).toFixed(1)} GiB in rnnp's fused kernels, more than WebAssembly's 4 GiB`,
      {
        code: "too-large",
        hint: "lower batchSize (the memory grows with batch x steps x units), or use TF.js's cells: --kernels tfjs",
      },
    );
  }
}

export class Kernels {
  private constructor(
    readonly exports: KernelExports,
    private readonly memory: WasmMemory,
    readonly pool: Pool,
  ) {}

  static load(threads = defaultThreads(), path = kernelsPath()): Kernels {
    if (!existsSync(path))
      throw new Error(`rnnp's fused kernels are not built (${path}): run npm run build`);
    const module = new wasm.Module(readFileSync(path));
    const memory = new wasm.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    const exports = new wasm.Instance(module, { env: { memory } }).exports as KernelExports &
      Record<KernelName, (...a: number[]) => void>;
    return new Kernels(
      exports,
      memory,
      new Pool(
        module,
        memory,
        KERNEL_NAMES,
        exports as unknown as Record<string, (...a: number[]) => void>,
        threads,
      ),
    );
  }

  /** Live regions, by offset: their ends. */
  private readonly regions = new Map<Ptr, Ptr>();
  /** Frees regions whose owner was dropped without releasing them (e.g. a tape never differentiated). */
  private readonly orphans = new FinalizationRegistry<Ptr>((ptr) => this.regions.delete(ptr));

  private get base(): Ptr {
    return Math.ceil(this.exports.heapBase() / 16) * 16;
  }

  /** Where scratch starts: above every live region. */
  private top(): Ptr {
    let top = this.base;
    for (const end of this.regions.values()) top = Math.max(top, end);
    return top;
  }

  /**
   * Buffers that stay until `release` (or until `owner` is garbage collected): placed in the first gap
   * between live regions that fits them, else above them.
   */
  allocate<K extends string>(sizes: Record<K, number>, owner: object): Region<K> {
    const bytes = Object.values<number>(sizes).reduce((n, floats) => n + aligned(floats), 0);
    let at = this.base;
    for (const [start, end] of [...this.regions].sort((a, b) => a[0] - b[0])) {
      if (start - at >= bytes) break;
      at = Math.max(at, end);
    }
    const layout = this.layout(sizes, at);
    this.regions.set(at, layout.end);
    const token = {};
    this.orphans.register(owner, at, token);
    let live = true;
    return {
      ...layout,
      // Once only: a later region may start at the same offset.
      release: () => {
        if (!live) return;
        live = false;
        this.orphans.unregister(token);
        this.regions.delete(at);
      },
    };
  }

  /** Bytes held by live regions. */
  inUse(): number {
    let bytes = 0;
    for (const [start, end] of this.regions) bytes += end - start;
    return bytes;
  }

  /** Scratch buffers for one call, above every live region (valid until the next call lays out its own). */
  scratch<K extends string>(sizes: Record<K, number>): Layout<K> & { end: Ptr } {
    return this.layout(sizes, this.top());
  }

  /** Places buffers of the given float counts one after another from `at` (16-byte aligned), growing memory as needed. */
  layout<K extends string>(sizes: Record<K, number>, at: Ptr): Layout<K> & { end: Ptr } {
    const out: Record<string, Ptr> = {};
    for (const [name, floats] of Object.entries(sizes) as [K, number][]) {
      out[name] = at;
      at += aligned(floats);
    }
    if (at > MAX_PAGES * 65536) throw new KernelMemoryExceeded(at);
    if (at > this.memory.buffer.byteLength)
      this.memory.grow(Math.ceil((at - this.memory.buffer.byteLength) / 65536));
    return { ...(out as Layout<K>), end: at };
  }

  /** A view of n floats at ptr (valid until the memory grows). */
  view(ptr: Ptr, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  write(ptr: Ptr, values: ArrayLike<number>): void {
    this.view(ptr, values.length).set(values);
  }

  /** A copy of n floats at ptr, owned by the caller. */
  read(ptr: Ptr, n: number): Float32Array {
    return this.view(ptr, n).slice();
  }
}

/** RNNP_THREADS, else two (more rarely pays: the per-step products are small); never more than the machine's cores. */
function defaultThreads(): number {
  const asked = Number(process.env.RNNP_THREADS ?? 2);
  return Math.max(1, Math.min(Number.isInteger(asked) ? asked : 2, availableParallelism()));
}

let loaded: Kernels | undefined;

/** The process's kernels, loaded on first use. */
export function kernels(): Kernels {
  loaded ??= Kernels.load();
  return loaded;
}
