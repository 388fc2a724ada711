/**
 * The kernels' ABI, written down once: for each entry point of `kernels/rnn.ts` (and of its native
 * port, `native/`), its arguments in order, and for each buffer its shape, axis order and role.
 * Calls are built by argument name from here (`kernelCall`), buffer sizes are computed from here
 * (`bufferFloats`), and `test/numerics/abi.test.ts` parses both sources (the AssemblyScript
 * signatures and buffer tables, the native argument lists) and fails when one drifts from this.
 *
 * Dimensions: B rows (a chunk of the batch), T steps, F input features, H units, G = gates x H
 * (LSTM 4H, GRU 3H, SimpleRNN H). Buffers are float32, row-major, at byte offsets in the kernels'
 * memory; an optional buffer that is absent is the offset 0.
 */

/**
 * Who writes and reads a buffer:
 * - `weights`: written by the caller, shared by every chunk of a batch;
 * - `input`: written by the caller for this call;
 * - `state`: written by the caller (the initial state at step 0), then by forward; kept for backward;
 * - `tape`: written by forward, read by backward (kept between them);
 * - `inout`: written by the caller, updated in place;
 * - `output`: written by the call, read by the caller;
 * - `scratch`: the call's own working memory, meaningless outside it.
 */
export type Role = "weights" | "input" | "state" | "tape" | "inout" | "output" | "scratch";

/**
 * When an optional buffer is there: with a mask, with recurrent dropout, with every step's output,
 * when the gradient-flow monitor records the gradient of every step's state.
 */
export type Condition = "masked" | "dropout" | "sequences" | "flow";

export interface BufferArg {
  readonly name: string;
  readonly type: "ptr";
  /**
   * Axes, outermost first: [B, T, F] is batch-major, [S, B, H] time-major. T is an axis by input
   * step t, S one by processing step s (t = rev ? T-1-s : s), both of size T; S+1 has one more
   * (the initial state first); G is gates x H; 2H two gates' columns; 3 three entries.
   */
  readonly shape: readonly string[];
  readonly role: Role;
  readonly when?: Condition;
  readonly doc: string;
}

export interface ScalarArg {
  readonly name: string;
  readonly type: "i32" | "bool";
  readonly doc: string;
}

export type Arg = BufferArg | ScalarArg;

const dims: readonly ScalarArg[] = [
  { name: "B", type: "i32", doc: "rows (sequences) in this chunk" },
  { name: "T", type: "i32", doc: "steps" },
  { name: "F", type: "i32", doc: "input features" },
  { name: "H", type: "i32", doc: "units" },
];
const rev: ScalarArg = {
  name: "rev",
  type: "bool",
  doc: "step s reads input step t = rev ? T-1-s : s",
};
const seq: ScalarArg = {
  name: "seq",
  type: "bool",
  doc: "give every step's output (out), not only the last",
};

const buf = (
  name: string,
  shape: string[],
  role: Role,
  doc: string,
  when?: Condition,
): BufferArg => ({ name, type: "ptr", shape, role, doc, ...(when ? { when } : {}) });

// Buffers that several kernels share, by name.
const x = buf("x", ["B", "T", "F"], "input", "the layer's inputs");
const w = buf("w", ["F", "G"], "weights", "input kernel, gates side by side");
const u = buf("u", ["H", "G"], "weights", "recurrent kernel, gates side by side");
const bias = buf("bias", ["G"], "weights", "bias");
const mask = buf("mask", ["B", "T"], "input", "1 = run the step, 0 = carry the state", "masked");
const rdrop = buf(
  "rdrop",
  ["B", "H"],
  "input",
  "recurrent dropout's mask (0 or 1/(1-rate)), one per sequence",
  "dropout",
);
const hm = buf(
  "hm",
  ["S", "B", "H"],
  "tape",
  "hm[s] = hs[s] * rdrop: the previous state as step s read it",
  "dropout",
);
const hs = buf(
  "hs",
  ["S+1", "B", "H"],
  "state",
  "hs[0] the initial h (from the caller), hs[s+1] h after step s",
);
const xw = buf("xw", ["B", "T", "G"], "scratch", "x w: every step's input projection");
const out = buf(
  "out",
  ["B", "S", "H"],
  "output",
  "every step's h, in processing order (as TF.js returns it)",
  "sequences",
);
const dout = buf(
  "dout",
  ["B", "S", "H"],
  "input",
  "gradient of out (added to dh step by step)",
  "sequences",
);
const dh = buf("dh", ["B", "H"], "inout", "in: d final h (plus d last output); out: d initial h");
const dx = buf("dx", ["B", "T", "F"], "output", "gradient of x");
const dw = buf("dw", ["F", "G"], "output", "gradient of w (this chunk's rows)");
const du = buf("du", ["H", "G"], "output", "gradient of u (this chunk's rows)");
const db = buf("db", ["G"], "output", "gradient of bias (this chunk's rows)");
const dhn = buf(
  "dhn",
  ["S", "B"],
  "output",
  "‖dh‖² of each row after step s, its output's gradient added (0 where masked)",
  "flow",
);
const sat = buf(
  "sat",
  ["3"],
  "output",
  "int32 counts: gate < 0.01, gate > 0.99, |candidate| > 0.99 (live steps)",
  "flow",
);
const dz = buf("dz", ["S", "B", "G"], "scratch", "gradients of the gates' pre-activations");
const wt = buf("wt", ["G", "F"], "scratch", "wᵀ");
const dxw = buf("dxw", ["B", "T", "G"], "scratch", "dz by input step, batch-major");
const tmp = (doc: string) => buf("tmp", ["B", "H"], "scratch", doc);

export interface KernelSpec {
  /** Gates per unit: G = gates x H. */
  readonly gates: 1 | 3 | 4;
  readonly args: readonly Arg[];
}

/**
 * The six entry points, in the order the pools number them. The forward kernels' states and tapes
 * are what their backward kernels read, under the same names.
 */
export const KERNELS = {
  lstmForward: {
    gates: 4,
    args: [
      ...dims,
      x,
      w,
      u,
      bias,
      mask,
      rev,
      rdrop,
      hm,
      xw,
      buf("z", ["B", "G"], "scratch", "one step's h u"),
      buf("gates", ["S", "B", "G"], "tape", "i, f, c̃, o after their activations"),
      hs,
      buf("cs", ["S+1", "B", "H"], "state", "cs[0] the initial c, cs[s+1] c after step s"),
      buf("tc", ["S", "B", "H"], "tape", "tanh(c) of step s"),
      out,
      seq,
    ],
  },
  lstmBackward: {
    gates: 4,
    args: [
      ...dims,
      x,
      w,
      u,
      mask,
      rev,
      rdrop,
      hm,
      buf("gates", ["S", "B", "G"], "tape", "from lstmForward"),
      buf("hs", ["S+1", "B", "H"], "state", "from lstmForward"),
      buf("cs", ["S+1", "B", "H"], "state", "from lstmForward"),
      buf("tc", ["S", "B", "H"], "tape", "from lstmForward"),
      dout,
      seq,
      dh,
      buf("dc", ["B", "H"], "inout", "in: d final c; out: d initial c"),
      dx,
      dw,
      du,
      db,
      dhn,
      sat,
      dz,
      buf("ut", ["G", "H"], "scratch", "uᵀ"),
      wt,
      dxw,
      tmp("dz uᵀ: the gradient of the previous h as the step read it"),
    ],
  },
  gruForward: {
    gates: 3,
    args: [
      ...dims,
      x,
      w,
      u,
      bias,
      mask,
      rev,
      rdrop,
      hm,
      xw,
      buf("z", ["B", "2H"], "scratch", "one step's h u, z and r columns"),
      tmp("one step's (r h) u, candidate columns"),
      buf("gates", ["S", "B", "G"], "tape", "z, r, h̃ after their activations"),
      hs,
      buf("rh", ["S", "B", "H"], "tape", "r * h of step s (h as the step read it)"),
      out,
      seq,
    ],
  },
  gruBackward: {
    gates: 3,
    args: [
      ...dims,
      x,
      w,
      u,
      mask,
      rev,
      rdrop,
      hm,
      buf("gates", ["S", "B", "G"], "tape", "from gruForward"),
      buf("hs", ["S+1", "B", "H"], "state", "from gruForward"),
      buf("rh", ["S", "B", "H"], "tape", "from gruForward"),
      dout,
      seq,
      dh,
      dx,
      dw,
      du,
      db,
      dhn,
      sat,
      dz,
      buf("uzrt", ["2H", "H"], "scratch", "the z and r columns of u, transposed"),
      buf("uht", ["H", "H"], "scratch", "the candidate columns of u, transposed"),
      wt,
      dxw,
      tmp("dh̃ (u_h)ᵀ: the gradient of r * h"),
      buf("acc", ["B", "H"], "scratch", "the gradient of the previous h, summed"),
    ],
  },
  simpleForward: {
    gates: 1,
    args: [
      ...dims,
      x,
      w,
      u,
      bias,
      mask,
      rev,
      rdrop,
      hm,
      xw,
      buf("z", ["B", "G"], "scratch", "one step's h u"),
      hs,
      out,
      seq,
    ],
  },
  simpleBackward: {
    gates: 1,
    args: [
      ...dims,
      x,
      w,
      u,
      mask,
      rev,
      rdrop,
      hm,
      buf("hs", ["S+1", "B", "H"], "state", "from simpleForward"),
      dout,
      seq,
      dh,
      dx,
      dw,
      du,
      db,
      dhn,
      sat,
      dz,
      buf("ut", ["G", "H"], "scratch", "uᵀ"),
      wt,
      dxw,
      tmp("dz uᵀ: the gradient of the previous h as the step read it"),
    ],
  },
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

/** The kernels in the pools' numbering (the native add-on checks it has the same list). */
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

type ArgOf<K extends KernelName> = (typeof KERNELS)[K]["args"][number];
/** A kernel's arguments by name: dimensions and flags as numbers and booleans, buffers as offsets. */
export type KernelArgs<K extends KernelName> = {
  [A in ArgOf<K> as A["name"]]: A["type"] extends "bool" ? boolean : number;
};

/** One kernel call, its arguments in the kernel's order. */
export interface Call {
  fn: KernelName;
  args: (number | boolean)[];
}

type Named = Readonly<Record<string, number | boolean | undefined>>;

/**
 * A call of kernel `fn` from its arguments by name, from one record or several (the first that has
 * a name gives it: a batch makes eight calls, and merging a chunk's dimensions and its two layouts
 * of buffers into one record cost more than the lookups); extra names are ignored, a missing one
 * throws.
 */
export function kernelCall<K extends KernelName>(
  fn: K,
  named: KernelArgs<K> | Named | readonly object[],
): Call {
  const sources = (Array.isArray(named) ? named : [named]) as readonly Named[];
  const given = (name: string) => {
    for (const s of sources) if (Object.hasOwn(s, name)) return s[name];
    return undefined;
  };
  return {
    fn,
    args: KERNELS[fn].args.map((a) => {
      const v = given(a.name);
      if (v === undefined) throw new Error(`${fn}: no value for its argument ${a.name}`);
      if ((a.type === "bool") !== (typeof v === "boolean"))
        throw new Error(
          `${fn}: argument ${a.name} must be ${a.type === "bool" ? "a boolean" : "a number"}`,
        );
      return v;
    }),
  };
}

export interface Dims {
  B: number;
  T: number;
  F: number;
  H: number;
}

/** Which optional buffers a call has. */
export type Present = Readonly<Record<Condition, boolean>>;

/** One axis's size: B, T, S, F, H, G, S+1 or 2H. */
export function axisSize(axis: string, d: Dims, gates: number): number {
  switch (axis) {
    case "B":
    case "T":
    case "F":
    case "H":
      return d[axis];
    case "G":
      return gates * d.H;
    case "S":
      return d.T;
    case "S+1":
      return d.T + 1;
    case "2H":
      return 2 * d.H;
    case "3":
      return 3;
    default:
      throw new Error(`unknown axis ${axis} in the kernels' ABI`);
  }
}

/** Floats of a buffer (0 when it is optional and absent). */
export function bufferFloats(b: BufferArg, d: Dims, gates: number, present: Present): number {
  if (b.when && !present[b.when]) return 0;
  return b.shape.reduce((n, axis) => n * axisSize(axis, d, gates), 1);
}

/** A kernel's buffer arguments, optionally only those with one of `roles`. */
export function buffersOf(fn: KernelName, roles?: readonly Role[]): BufferArg[] {
  return (KERNELS[fn].args as readonly Arg[]).filter(
    (a): a is BufferArg => a.type === "ptr" && (!roles || roles.includes(a.role)),
  );
}
