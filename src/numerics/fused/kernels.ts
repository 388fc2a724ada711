import { UserError } from "../../core/diagnostic.js";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ownPackageRoot } from "../../core/find-up.js";
import { kernelsDigest, kernelsPath } from "../../runtime/kernels-build.js";
import type { Call } from "./abi.js";
import { type AdamStep, isaAsked, loadAddon, NativePool } from "./native.js";
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

/** What JS calls on the module itself; the kernels (abi.ts) are called through the pool. */
export interface KernelExports {
  heapBase(): Ptr;
}

/** Float32 buffers of one call, by name: their offsets in the module's memory. */
export type Layout<K extends string> = Record<K, Ptr>;

/** Buffers that outlive a call, until released. */
export type Region<K extends string> = Layout<K> & { end: Ptr; release(): void };

/** Bytes of n floats, rounded up to 16 (SIMD loads). */
/**
 * Buffers start on 64-byte boundaries: a cache line, and one 512-bit vector of the native kernels
 * (a load that straddles two lines costs two; a 16-byte buffer such as the flow's counts would
 * otherwise shift every buffer after it off the lines).
 */
const ALIGN = 64;
const aligned = (floats: number): number => Math.ceil((floats * 4) / ALIGN) * ALIGN;

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

/** What runs a batch of kernel calls: the wasm pool, or the native add-on's. */
export interface Runner {
  readonly threads: number;
  run(calls: readonly Call[]): void;
  /** The buffer at offsets[0] += each other one, in order (chunks' weight gradients). */
  sum(offsets: readonly number[], n: number): void;
}

/**
 * Which build of the kernels runs (RNNP_KERNELS_IMPL): `native` where the add-on is built (its best
 * instruction set, or `native-avx2` etc. for one), `wasm` for the WebAssembly kernels; unset, the
 * native ones when they can run. Both give the same bytes, so stage keys do not say which ran.
 */
export type Implementation = "auto" | "wasm" | "native" | `native-${string}`;

function implementationAsked(): Implementation {
  const asked = process.env.RNNP_KERNELS_IMPL ?? "auto";
  if (asked === "auto" || asked === "wasm" || asked === "native" || asked.startsWith("native-"))
    return asked as Implementation;
  throw new UserError(`RNNP_KERNELS_IMPL=${asked}: no such build of the kernels`, {
    hint: "wasm, native, or native-<instruction set> (native-avx512, native-avx2, native-scalar)",
  });
}

export class Kernels {
  private constructor(
    readonly exports: KernelExports,
    private readonly memory: WasmMemory,
    readonly pool: Runner,
    /** "native avx512" or "wasm simd", and why not native when it could have been. */
    readonly implementation: string,
    private readonly fallback?: string,
  ) {}

  static load(
    threads = defaultThreads(),
    path = kernelsPath(),
    impl: Implementation = implementationAsked(),
  ): Kernels {
    if (!existsSync(path))
      throw new Error(`rnnp's fused kernels are not built (${path}): run npm run build`);
    const module = new wasm.Module(readFileSync(path));
    const memory = new wasm.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    const exports = new wasm.Instance(module, { env: { memory } }).exports as KernelExports &
      Record<string, (...a: number[]) => void>;
    const wasmPool = (fallback?: string) =>
      new Kernels(
        exports,
        memory,
        new Pool(module, memory, exports, threads),
        "wasm simd",
        fallback,
      );
    if (impl === "wasm") return wasmPool();
    const addon = loadAddon(packageRoot(), kernelsDigest(path));
    if ("reason" in addon) {
      if (impl !== "auto")
        throw new UserError(
          `RNNP_KERNELS_IMPL=${impl}: rnnp's native kernels are ${addon.reason}`,
          {
            hint: "unset RNNP_KERNELS_IMPL (or set it to wasm) to run the WebAssembly kernels: the same bytes",
          },
        );
      return wasmPool(`native kernels ${addon.reason}`);
    }
    const isa = isaAsked(impl === "auto" ? "native" : impl, addon);
    // One float at a time is slower than WebAssembly's four: unasked, the wasm kernels run then.
    if (impl === "auto" && isa === "scalar")
      return wasmPool("native kernels: no vector instruction set built for this CPU");
    return new Kernels(
      exports,
      memory,
      new NativePool(addon, isa, threads, memory),
      `native ${isa}`,
    );
  }

  /**
   * Whether a backward call may leave out the input's gradient (dx = 0): the native kernels skip
   * its product then; the wasm kernels always compute it (native/rnn.h, inputGradients).
   */
  get skipsInputGradient(): boolean {
    return this.pool instanceof NativePool;
  }

  /** Adam's step in native code, where the kernels run natively (src/numerics/adam.ts). */
  get adam(): AdamStep | undefined {
    return this.pool instanceof NativePool ? this.pool.adam : undefined;
  }

  /** TF.js's wasm sum of squares in native code, where the kernels run natively (squared-norms.ts). */
  get sumSquares(): ((x: Float32Array) => number) | undefined {
    return this.pool instanceof NativePool ? this.pool.sumSquares : undefined;
  }

  /** For the run output: "native avx512, 2 threads". */
  describe(): string {
    const threads = `${this.pool.threads} thread${this.pool.threads === 1 ? "" : "s"}`;
    return `${this.implementation}, ${threads}${this.fallback ? `; ${this.fallback}` : ""}`;
  }

  /** Live regions, by offset: their ends. */
  private readonly regions = new Map<Ptr, Ptr>();
  /** Frees regions whose owner was dropped without releasing them (e.g. a tape never differentiated). */
  private readonly orphans = new FinalizationRegistry<Ptr>((ptr) => this.regions.delete(ptr));

  private get base(): Ptr {
    return Math.ceil(this.exports.heapBase() / ALIGN) * ALIGN;
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

  /** Places buffers of the given float counts one after another from `at` (64-byte aligned), growing memory as needed. */
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

/**
 * The process's kernels where their native helpers (Adam's step, sums of squares) may read TF.js's
 * tensors in place: on the wasm backend, whose memory they read, once something loaded the kernels
 * (a fused model). Never loads them.
 */
export function kernelsOnWasm(backend: string): Kernels | undefined {
  return backend === "wasm" ? loaded : undefined;
}

/** rnnp's package root, where the native add-on is built (build/Release). */
function packageRoot(): string {
  const root = ownPackageRoot(import.meta.url);
  if (!root) throw new Error("cannot find rnnp's package.json above its modules");
  return root;
}
