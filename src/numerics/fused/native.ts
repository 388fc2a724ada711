import { existsSync } from "node:fs";
import { UserError } from "../../core/diagnostic.js";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  type Call,
  KERNEL_NAMES,
  KERNELS,
  type KernelName,
  bufferFloats,
  type Arg,
} from "./abi.js";
import { encodeCalls, SLOT } from "./pool.js";

/**
 * rnnp's kernels built natively (`native/`, a Node-API add-on compiled at install when a compiler is
 * there): the same kernels as `kernels/rnn.ts`, bit for bit, with wider vectors. They run on the
 * WebAssembly kernels' own memory, so everything around them (tapes, scratch, offsets) is the same.
 */
interface Addon {
  /** The builds this CPU can run, best first. */
  isas: string[];
  /** The kernels in the pools' numbering, with their argument counts. */
  kernels: [string, number][];
  /** The digest of the compiled wasm kernels this port reproduces. */
  portOf: string;
  Pool: new (threads: number, isa: string) => AddonPool;
  /** One weight's Adam step (src/numerics/adam.ts); absent from older builds. */
  adam?: AdamStep;
  /** TF.js's wasm sum of squares of x (src/numerics/squared-norms.ts); absent from older builds. */
  sumSquares?: (x: Float32Array) => number;
}

/**
 * From g, m, v, w (of one length) into mOut, vOut, wOut (each may be its input); k: beta1, 1 - beta1,
 * beta2, 1 - beta2, 1 - beta1^t, 1 - beta2^t, epsilon, -lr.
 */
export type AdamStep = (
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  w: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  wOut: Float32Array,
  k: Float32Array,
) => void;
interface AddonPool {
  readonly threads: number;
  readonly isa: string;
  run(memory: Uint8Array, table: Int32Array, count: number): void;
  sum(memory: Uint8Array, offsets: Int32Array, n: number): void;
  close(): void;
}

/** Where `npm install` (native/install.js) leaves the add-on. */
export function addonPath(root: string): string {
  return join(root, "build", "Release", "rnnp_kernels.node");
}

/** The add-on, if it is built and is a port of these kernels; else why not. */
export function loadAddon(
  root: string,
  wasmDigest: string | undefined,
): Addon | { reason: string } {
  const path = addonPath(root);
  if (!existsSync(path)) return { reason: "not built: npm run native builds them" };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    return { reason: `does not load: ${(e as Error).message.split("\n")[0]}` };
  }
  if (addon.portOf !== wasmDigest)
    return {
      reason: `a port of other kernels, ${addon.portOf} where these are ${wasmDigest}: npm run native`,
    };
  const expected = KERNEL_NAMES.map((n) => `${n}/${KERNELS[n].args.length}`).join(",");
  if (addon.kernels.map(([n, a]) => `${n}/${a}`).join(",") !== expected)
    return { reason: "built with other kernel arguments than abi.ts declares: npm run native" };
  return addon;
}

/** `native` (the best build for this CPU) or `native-<isa>`: which build to run. */
export function isaAsked(impl: string, addon: Addon): string {
  const isa = impl === "native" ? addon.isas[0]! : impl.slice("native-".length);
  if (!addon.isas.includes(isa))
    throw new UserError(`RNNP_KERNELS_IMPL=${impl}: this machine cannot run that build`, {
      hint: `it runs ${addon.isas.map((i) => `native-${i}`).join(", ")}`,
    });
  return isa;
}

/** Runs kernel calls natively: the wasm pool's interface. */
export class NativePool {
  private readonly pool: AddonPool;
  private table = new Int32Array(64 * SLOT);
  private view: Uint8Array | undefined;
  /** The add-on's Adam step, if it has one. */
  readonly adam: AdamStep | undefined;
  /** The add-on's sum of squares, if it has one. */
  readonly sumSquares: ((x: Float32Array) => number) | undefined;

  constructor(
    addon: Addon,
    isa: string,
    readonly threads: number,
    private readonly memory: { readonly buffer: ArrayBufferLike },
  ) {
    this.pool = new addon.Pool(threads, isa);
    this.adam = addon.adam;
    this.sumSquares = addon.sumSquares;
  }

  get isa(): string {
    return this.pool.isa;
  }

  run(calls: readonly Call[]): void {
    const memory = this.memoryView();
    for (const call of calls) checkExtents(call, memory.byteLength);
    if (calls.length * SLOT > this.table.length) this.table = new Int32Array(calls.length * SLOT);
    encodeCalls(calls, this.table, 0);
    this.pool.run(memory, this.table, calls.length);
  }

  /** The first buffer += each other one, element by element in order (as `Pool.sum`). */
  sum(offsets: readonly number[], n: number): void {
    this.pool.sum(this.memoryView(), Int32Array.from(offsets), n);
  }

  /** The memory as bytes (a new view after it grew). */
  private memoryView(): Uint8Array {
    const buffer = this.memory.buffer;
    if (this.view?.buffer !== buffer) this.view = new Uint8Array(buffer);
    return this.view;
  }
}

const ALL = { masked: true, dropout: true, sequences: true, flow: true };

/**
 * Every buffer of the call lies inside the memory (WebAssembly traps on an access outside; native
 * code would not): the extents come from the ABI's shapes and the call's dimensions.
 */
export function checkExtents(call: Call, bytes: number): void {
  const spec = KERNELS[call.fn as KernelName];
  const args = spec.args as readonly Arg[];
  const dim = (name: string) => call.args[args.findIndex((a) => a.name === name)] as number;
  const d = { B: dim("B"), T: dim("T"), F: dim("F"), H: dim("H") };
  args.forEach((a, i) => {
    if (a.type !== "ptr") return;
    const at = call.args[i] as number;
    if (at === 0) return;
    const end = at + 4 * bufferFloats(a, d, spec.gates, ALL);
    if (end > bytes)
      throw new Error(`${call.fn}: buffer ${a.name} (${at} to ${end}) outside the kernels' memory`);
  });
}
