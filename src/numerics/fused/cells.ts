import type { Kernels, Layout } from "./kernels.js";
import type { Call } from "./pool.js";

/**
 * The three recurrent cells as whole-sequence kernel calls. Each declares what its kernels need:
 * the state arrays it keeps per step (initial states go in at step 0, final ones come out at step T),
 * what the backward pass needs from the forward one, and scratch space; `forward` and `backward`
 * then move arrays in and out of the kernels' memory around one call per chunk of rows, the chunks
 * run by the kernels' thread pool.
 */
export type CellKind = "lstm" | "gru" | "simpleRNN";

export interface Dims {
  B: number;
  T: number;
  F: number;
  H: number;
}

export interface SequenceInputs {
  /** [B, T, F] */
  x: Float32Array;
  /** [F, G], [H, G], [G] with G = gates x H. */
  w: Float32Array;
  u: Float32Array;
  b: Float32Array;
  /** One [B, H] array per state (h; and c for LSTM). */
  init: Float32Array[];
  /** [B, T]; 0 = skip the step. */
  mask?: Float32Array;
  /** [B, H]: recurrent dropout's mask (0 or 1 / (1 - rate)), applied to the previous state where a step reads it. */
  recurrentDropout?: Float32Array;
  reverse: boolean;
  /** Give the output of every step ([B, T, H]), not only the last ([B, H]). */
  sequences: boolean;
}

export interface ForwardResult {
  output: Float32Array;
  /** Final states, [B, H] each. */
  states: Float32Array[];
  /** What backward needs (only when asked for). */
  saved?: Tape;
}

export interface Gradients {
  dx: Float32Array;
  dw: Float32Array;
  du: Float32Array;
  db: Float32Array;
  /** Of the initial states. */
  dinit: Float32Array[];
}

interface Cell {
  gates: number;
  /** Per-step arrays of states, in state order ([T+1, B, H] each). */
  states: string[];
  /** Per-step arrays backward needs besides the states, with their sizes. */
  saved(d: Dims): Record<string, number>;
  forwardScratch(d: Dims): Record<string, number>;
  backwardScratch(d: Dims): Record<string, number>;
  /** Gradient buffers of the states, in state order: final states' gradients in, initial ones' out. */
  dstates: string[];
  forward(d: Dims, p: Layout<string>, rev: boolean, seq: boolean): Call;
  backward(d: Dims, p: Layout<string>, rev: boolean, seq: boolean): Call;
}

const steps = ({ T, B, H }: Dims) => (T + 1) * B * H;

export const CELLS: Record<CellKind, Cell> = {
  lstm: {
    gates: 4,
    states: ["hs", "cs"],
    saved: (d) => ({ gates: d.T * d.B * 4 * d.H, tc: d.T * d.B * d.H }),
    forwardScratch: (d) => ({ xw: d.B * d.T * 4 * d.H, z: d.B * 4 * d.H }),
    backwardScratch: (d) => ({
      dz: d.T * d.B * 4 * d.H,
      ut: 4 * d.H * d.H,
      wt: 4 * d.H * d.F,
      dxw: d.B * d.T * 4 * d.H,
      tmp: d.B * d.H,
    }),
    dstates: ["dh", "dc"],
    forward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "lstmForward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.b!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.xw!,
        p.z!,
        p.gates!,
        p.hs!,
        p.cs!,
        p.tc!,
        p.out!,
        seq,
      ],
    }),
    backward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "lstmBackward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.gates!,
        p.hs!,
        p.cs!,
        p.tc!,
        p.dout!,
        seq,
        p.dh!,
        p.dc!,
        p.dx!,
        p.dw!,
        p.du!,
        p.db!,
        p.dz!,
        p.ut!,
        p.wt!,
        p.dxw!,
        p.tmp!,
      ],
    }),
  },
  gru: {
    gates: 3,
    states: ["hs"],
    saved: (d) => ({ gates: d.T * d.B * 3 * d.H, rh: d.T * d.B * d.H }),
    forwardScratch: (d) => ({ xw: d.B * d.T * 3 * d.H, z: d.B * 2 * d.H, tmp: d.B * d.H }),
    backwardScratch: (d) => ({
      dz: d.T * d.B * 3 * d.H,
      uzrt: 2 * d.H * d.H,
      uht: d.H * d.H,
      wt: 3 * d.H * d.F,
      dxw: d.B * d.T * 3 * d.H,
      tmp: d.B * d.H,
      acc: d.B * d.H,
    }),
    dstates: ["dh"],
    forward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "gruForward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.b!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.xw!,
        p.z!,
        p.tmp!,
        p.gates!,
        p.hs!,
        p.rh!,
        p.out!,
        seq,
      ],
    }),
    backward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "gruBackward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.gates!,
        p.hs!,
        p.rh!,
        p.dout!,
        seq,
        p.dh!,
        p.dx!,
        p.dw!,
        p.du!,
        p.db!,
        p.dz!,
        p.uzrt!,
        p.uht!,
        p.wt!,
        p.dxw!,
        p.tmp!,
        p.acc!,
      ],
    }),
  },
  simpleRNN: {
    gates: 1,
    states: ["hs"],
    saved: () => ({}),
    forwardScratch: (d) => ({ xw: d.B * d.T * d.H, z: d.B * d.H }),
    backwardScratch: (d) => ({
      dz: d.T * d.B * d.H,
      ut: d.H * d.H,
      wt: d.H * d.F,
      dxw: d.B * d.T * d.H,
      tmp: d.B * d.H,
    }),
    dstates: ["dh"],
    forward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "simpleForward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.b!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.xw!,
        p.z!,
        p.hs!,
        p.out!,
        seq,
      ],
    }),
    backward: ({ B, T, F, H }, p, rev, seq) => ({
      fn: "simpleBackward",
      args: [
        B,
        T,
        F,
        H,
        p.x!,
        p.w!,
        p.u!,
        p.mask!,
        rev,
        p.rdrop!,
        p.hm!,
        p.hs!,
        p.dout!,
        seq,
        p.dh!,
        p.dx!,
        p.dw!,
        p.du!,
        p.db!,
        p.dz!,
        p.ut!,
        p.wt!,
        p.dxw!,
        p.tmp!,
      ],
    }),
  },
};

/**
 * Rows per kernel call. Fixed, so that how rows are grouped (and so every sum over rows: the weight
 * gradients) never depends on how many threads run the calls: the bytes are the same on 1 or 8.
 */
export const CHUNK_ROWS = 16;

interface Chunk {
  from: number;
  d: Dims;
  /** The chunk's buffers (and the shared ones). */
  p: Layout<string>;
}

/**
 * Buffers shared by all chunks and buffers of each chunk, placed together by `place` (an allocation
 * or scratch): names are `name` for shared ones and `name@i` for chunk i's.
 */
function placed(
  d: Dims,
  shared: Record<string, number>,
  perChunk: (cd: Dims) => Record<string, number>,
  place: (sizes: Record<string, number>) => Layout<string>,
): Chunk[] {
  const chunks: { from: number; d: Dims }[] = [];
  for (let from = 0; from < d.B; from += CHUNK_ROWS)
    chunks.push({ from, d: { ...d, B: Math.min(CHUNK_ROWS, d.B - from) } });
  const own = chunks.map((c) => perChunk(c.d));
  const sizes: Record<string, number> = { ...shared };
  own.forEach((o, i) => Object.entries(o).forEach(([name, n]) => (sizes[`${name}@${i}`] = n)));
  const at = place(sizes);
  return chunks.map((c, i) => ({
    ...c,
    p: Object.fromEntries([
      ...Object.keys(shared).map((name) => [name, at[name]!] as const),
      ...Object.keys(own[i]!).map((name) => [name, at[`${name}@${i}`]!] as const),
    ]),
  }));
}

/** Joins the buffers of the same chunks placed twice (a tape's and a call's scratch). */
const joined = (a: Chunk[], b: Chunk[]): Chunk[] =>
  a.map((c, i) => ({ ...c, p: { ...c.p, ...b[i]!.p } }));

/** A chunk's rows of a row-major [B, perRow] array. */
function rowsOf(a: Float32Array, c: Chunk, perRow: number): Float32Array {
  return a.subarray(c.from * perRow, (c.from + c.d.B) * perRow);
}

/**
 * What a layer's backward pass needs from its forward pass: its inputs, weights and per-step states
 * and gates, left in the kernels' memory (not copied out and back) until the backward pass releases them.
 */
export interface Tape {
  kind: CellKind;
  d: Dims;
  reverse: boolean;
  sequences: boolean;
  chunks: Chunk[];
  release(): void;
}

/** Runs a layer over whole sequences; with `save`, keeps on a tape what `backward` will need. */
export function forward(
  k: Kernels,
  kind: CellKind,
  d: Dims,
  inputs: SequenceInputs,
  save: boolean,
): ForwardResult {
  const cell = CELLS[kind];
  const { B, T, F, H } = d;
  const G = cell.gates * H;
  const masked = inputs.mask !== undefined;
  const dropped = inputs.recurrentDropout !== undefined;
  // The tape owns its region: dropped unreleased (never differentiated), it is freed when collected.
  const tape: Tape = {
    kind,
    d,
    reverse: inputs.reverse,
    sequences: inputs.sequences,
    chunks: [],
    release: () => {},
  };
  tape.chunks = placed(
    d,
    { w: F * G, u: H * G, b: G },
    (cd) => ({
      x: cd.B * T * F,
      mask: masked ? cd.B * T : 0,
      rdrop: dropped ? cd.B * H : 0,
      hm: dropped ? T * cd.B * H : 0,
      ...Object.fromEntries(cell.states.map((s) => [s, steps(cd)])),
      ...cell.saved(cd),
    }),
    (sizes) => {
      const region = k.allocate(sizes, tape);
      tape.release = region.release;
      return region;
    },
  );
  // Absent inputs are null pointers to the kernels.
  for (const c of tape.chunks) {
    if (!masked) c.p.mask = 0;
    if (!dropped) c.p.rdrop = c.p.hm = 0;
  }
  const chunks = joined(
    tape.chunks,
    placed(
      d,
      {},
      (cd) => ({ ...cell.forwardScratch(cd), out: inputs.sequences ? cd.B * T * H : 0 }),
      (sizes) => k.scratch(sizes),
    ),
  );
  const p0 = chunks[0]!.p;
  k.write(p0.w!, inputs.w);
  k.write(p0.u!, inputs.u);
  k.write(p0.b!, inputs.b);
  for (const c of chunks) {
    k.write(c.p.x!, rowsOf(inputs.x, c, T * F));
    if (inputs.mask) k.write(c.p.mask!, rowsOf(inputs.mask, c, T));
    if (inputs.recurrentDropout) k.write(c.p.rdrop!, rowsOf(inputs.recurrentDropout, c, H));
    cell.states.forEach((s, i) => k.write(c.p[s]!, rowsOf(inputs.init[i]!, c, H)));
  }
  k.pool.run(chunks.map((c) => cell.forward(c.d, c.p, inputs.reverse, inputs.sequences)));
  const final = (s: string) => {
    const out = new Float32Array(B * H);
    for (const c of chunks) out.set(k.view(c.p[s]! + T * c.d.B * H * 4, c.d.B * H), c.from * H);
    return out;
  };
  let output: Float32Array;
  if (inputs.sequences) {
    output = new Float32Array(B * T * H);
    for (const c of chunks) output.set(k.view(c.p.out!, c.d.B * T * H), c.from * T * H);
  } else output = final(cell.states[0]!);
  const states = cell.states.map(final);
  if (!save) {
    tape.release();
    return { output, states };
  }
  return { output, states, saved: tape };
}

/**
 * Backpropagation through time, from a forward pass's tape (released here). `doutput` is the
 * gradient of the output ([B, T, H] or [B, H]); `dstates` those of the final states (zeros when
 * unused). Weight gradients are summed over chunks in chunk order.
 */
export function backward(
  k: Kernels,
  tape: Tape,
  doutput: Float32Array,
  dstates: Float32Array[],
): Gradients {
  const cell = CELLS[tape.kind];
  const { d } = tape;
  const { B, T, F, H } = d;
  const G = cell.gates * H;
  const chunks = joined(
    tape.chunks,
    placed(
      d,
      {},
      (cd) => ({
        dout: tape.sequences ? cd.B * T * H : 0,
        ...Object.fromEntries(cell.dstates.map((s) => [s, cd.B * H])),
        dx: cd.B * T * F,
        dw: F * G,
        du: H * G,
        db: G,
        ...cell.backwardScratch(cd),
      }),
      (sizes) => k.scratch(sizes),
    ),
  );
  for (const c of chunks) {
    cell.dstates.forEach((s, j) => k.write(c.p[s]!, rowsOf(dstates[j]!, c, H)));
    if (tape.sequences) k.write(c.p.dout!, rowsOf(doutput, c, T * H));
    else {
      // The last output is the final h: its gradient adds to h's.
      const dh = k.view(c.p.dh!, c.d.B * H);
      const dout = rowsOf(doutput, c, H);
      for (let j = 0; j < dh.length; j++) dh[j] = dh[j]! + dout[j]!;
    }
  }
  k.pool.run(chunks.map((c) => cell.backward(c.d, c.p, tape.reverse, tape.sequences)));
  const rows = (name: string, perRow: number) => {
    const out = new Float32Array(B * perRow);
    for (const c of chunks) out.set(k.view(c.p[name]!, c.d.B * perRow), c.from * perRow);
    return out;
  };
  const summed = (name: string, n: number) => {
    const out = k.read(chunks[0]!.p[name]!, n);
    for (const c of chunks.slice(1)) {
      const part = k.view(c.p[name]!, n);
      for (let j = 0; j < n; j++) out[j] = out[j]! + part[j]!;
    }
    return out;
  };
  const grads = {
    dx: rows("dx", T * F),
    dw: summed("dw", F * G),
    du: summed("du", H * G),
    db: summed("db", G),
    dinit: cell.dstates.map((s) => rows(s, H)),
  };
  tape.release();
  return grads;
}
