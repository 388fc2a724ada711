import {
  type BufferArg,
  bufferFloats,
  buffersOf,
  type Dims,
  kernelCall,
  type Present,
} from "./abi.js";
import type { StepGradients } from "../flow.js";
import type { Kernels, Layout } from "./kernels.js";

/**
 * The three recurrent cells as whole-sequence kernel calls. Each names its two kernels, whose
 * buffers the ABI (abi.ts) declares with their roles: the forward kernel's weights are shared by
 * every chunk; its inputs, states and tapes stay in the kernels' memory for the backward pass; its
 * scratch and outputs, and the backward kernel's gradients and scratch, live for one call. `forward`
 * and `backward` move arrays in and out of the kernels' memory around one call per chunk of rows,
 * the chunks run by the kernels' thread pool.
 */
export type CellKind = "lstm" | "gru" | "simpleRNN";

export type { Dims };

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
  /** Final states, [B, H] each (none without `withStates`). */
  states: Float32Array[];
  /** What backward needs (only when asked for). */
  saved?: Tape;
}

export interface Gradients {
  /** Absent when not asked for (BackwardOptions.inputGradient). */
  dx?: Float32Array;
  dw: Float32Array;
  du: Float32Array;
  db: Float32Array;
  /** Of the initial states (none when not asked for: BackwardOptions.stateGradients). */
  dinit: Float32Array[];
  /** With `flow`: the gradient of every step's state, and how saturated the gates were. */
  flow?: StepGradients;
}

interface Cell {
  /** Its kernels (their buffers, by name, are in the ABI: abi.ts). */
  forward: "lstmForward" | "gruForward" | "simpleForward";
  backward: "lstmBackward" | "gruBackward" | "simpleBackward";
  gates: 1 | 3 | 4;
  /** Per-step arrays of states, in state order ([T+1, B, H] each). */
  states: string[];
  /** Gradient buffers of the states, in state order: final states' gradients in, initial ones' out. */
  dstates: string[];
}

export const CELLS: Record<CellKind, Cell> = {
  lstm: {
    forward: "lstmForward",
    backward: "lstmBackward",
    gates: 4,
    states: ["hs", "cs"],
    dstates: ["dh", "dc"],
  },
  gru: {
    forward: "gruForward",
    backward: "gruBackward",
    gates: 3,
    states: ["hs"],
    dstates: ["dh"],
  },
  simpleRNN: {
    forward: "simpleForward",
    backward: "simpleBackward",
    gates: 1,
    states: ["hs"],
    dstates: ["dh"],
  },
};

/** Absent optional buffers are null pointers to the kernels. */
function nullAbsent(buffers: readonly BufferArg[], present: Present, chunks: Chunk[]): void {
  for (const b of buffers) if (b.when && !present[b.when]) for (const c of chunks) c.p[b.name] = 0;
}

/** Some of a kernel's buffers, named for the plans made of them (the ABI never changes). */
interface Buffers {
  key: string;
  list: readonly BufferArg[];
}
const buffersMemo = new Map<string, Buffers>();
function buffersWith(key: string, list: () => readonly BufferArg[]): Buffers {
  let b = buffersMemo.get(key);
  if (!b) {
    b = { key, list: list() };
    buffersMemo.set(key, b);
  }
  return b;
}

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
 * How buffers shared by all chunks and buffers of each chunk are placed together: the sizes `place`
 * lays out (names are `name` for shared ones and `name@i` for chunk i's), and which of them is each
 * chunk's. Made once per kernel, buffers, dims and optional buffers: every batch of a training asks
 * for the same, and making it (its names, its records) cost a third of a millisecond a batch.
 */
interface Plan {
  sizes: Record<string, number>;
  chunks: { from: number; d: Dims; names: [name: string, placedAs: string][] }[];
}
const plans = new Map<string, Plan>();

function planOf(d: Dims, gates: number, present: Present, shared: Buffers, own: Buffers): Plan {
  const key = `${shared.key}|${own.key}|${d.B},${d.T},${d.F},${d.H},${gates}|${Object.entries(present)}`;
  let plan = plans.get(key);
  if (plan) return plan;
  const sizes: Record<string, number> = {};
  for (const b of shared.list) sizes[b.name] = bufferFloats(b, d, gates, present);
  const chunks: Plan["chunks"] = [];
  for (let from = 0; from < d.B; from += CHUNK_ROWS) {
    const cd = { ...d, B: Math.min(CHUNK_ROWS, d.B - from) };
    const i = chunks.length;
    for (const b of own.list) sizes[`${b.name}@${i}`] = bufferFloats(b, cd, gates, present);
    chunks.push({
      from,
      d: cd,
      names: [
        ...shared.list.map((b) => [b.name, b.name] as [string, string]),
        ...own.list.map((b) => [b.name, `${b.name}@${i}`] as [string, string]),
      ],
    });
  }
  plan = { sizes, chunks };
  // Bounded: a long run of varying shapes (bucketed batches) keeps only recent plans.
  if (plans.size >= 256) plans.clear();
  plans.set(key, plan);
  return plan;
}

/** Buffers shared by all chunks and buffers of each chunk, placed together by `place` (an allocation or scratch). */
function placed(
  d: Dims,
  gates: number,
  present: Present,
  shared: Buffers,
  own: Buffers,
  place: (sizes: Record<string, number>) => Layout<string>,
): Chunk[] {
  const plan = planOf(d, gates, present, shared, own);
  const at = place(plan.sizes);
  return plan.chunks.map((c) => {
    const p: Layout<string> = {};
    for (const [name, placedAs] of c.names) p[name] = at[placedAs]!;
    return { from: c.from, d: c.d, p };
  });
}

const NONE: Buffers = { key: "none", list: [] };

/** Joins the buffers of the same chunks placed twice (a tape's, into a call's scratch's). */
const joined = (tape: Chunk[], scratch: Chunk[]): Chunk[] =>
  scratch.map((c, i) => {
    const kept = tape[i]!.p;
    for (const name of Object.keys(kept)) c.p[name] = kept[name]!;
    return c;
  });

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
  /** Which optional buffers it has. */
  present: Present;
  reverse: boolean;
  sequences: boolean;
  chunks: Chunk[];
  release(): void;
}

/**
 * Runs a layer over whole sequences; with `save`, keeps on a tape what `backward` will need. Without
 * `withStates` (a caller that uses the output alone), the final states are not copied out.
 */
export function forward(
  k: Kernels,
  kind: CellKind,
  d: Dims,
  inputs: SequenceInputs,
  save: boolean,
  withStates = true,
): ForwardResult {
  const cell = CELLS[kind];
  const { B, T, H } = d;
  const present: Present = {
    masked: inputs.mask !== undefined,
    dropout: inputs.recurrentDropout !== undefined,
    sequences: inputs.sequences,
    flow: false,
  };
  // The tape owns its region: dropped unreleased (never differentiated), it is freed when collected.
  const tape: Tape = {
    kind,
    d,
    present,
    reverse: inputs.reverse,
    sequences: inputs.sequences,
    chunks: [],
    release: () => {},
  };
  const shared = buffersWith(`${cell.forward}:weights`, () => buffersOf(cell.forward, ["weights"]));
  const kept = buffersWith(`${cell.forward}:kept`, () =>
    buffersOf(cell.forward, ["input", "state", "tape"]),
  );
  const own = buffersWith(`${cell.forward}:own`, () =>
    buffersOf(cell.forward, ["scratch", "output"]),
  );
  tape.chunks = placed(d, cell.gates, present, shared, kept, (s) => {
    const region = k.allocate(s, tape);
    tape.release = region.release;
    return region;
  });
  nullAbsent(kept.list, present, tape.chunks);
  const chunks = joined(
    tape.chunks,
    placed(d, cell.gates, present, NONE, own, (s) => k.scratch(s)),
  );
  nullAbsent(own.list, present, chunks);
  const p0 = chunks[0]!.p;
  k.write(p0.w!, inputs.w);
  k.write(p0.u!, inputs.u);
  k.write(p0.bias!, inputs.b);
  for (const c of chunks) {
    k.write(c.p.x!, rowsOf(inputs.x, c, T * d.F));
    if (inputs.mask) k.write(c.p.mask!, rowsOf(inputs.mask, c, T));
    if (inputs.recurrentDropout) k.write(c.p.rdrop!, rowsOf(inputs.recurrentDropout, c, H));
    cell.states.forEach((s, i) => k.write(c.p[s]!, rowsOf(inputs.init[i]!, c, H)));
  }
  k.pool.run(
    chunks.map((c) =>
      kernelCall(cell.forward, [c.d, c.p, { rev: inputs.reverse, seq: inputs.sequences }]),
    ),
  );
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
  // The last output is the final h: one copy serves both.
  const states = withStates
    ? cell.states.map((s, i) => (i === 0 && !inputs.sequences ? output : final(s)))
    : [];
  if (!save) {
    tape.release();
    return { output, states };
  }
  return { output, states, saved: tape };
}

/** What `backward` gives besides the weights' gradients, and how. */
export interface BackwardOptions {
  /**
   * Also keep the gradient of every step's state: the result carries its norms and the tape's gate
   * saturation (`measureFlow`).
   */
  flow?: boolean;
  /**
   * The input's gradient (default true). Without (the input is data), it is neither copied out nor,
   * where the kernels can skip it, computed.
   */
  inputGradient?: boolean;
  /** The initial states' gradients (default true); without, they are not copied out. */
  stateGradients?: boolean;
  /**
   * The weights' gradients as views of the kernels' memory rather than copies: valid only until the
   * next kernel call, for a caller that copies them at once.
   */
  views?: boolean;
  /**
   * Keep the tape for another backward pass (default: released). A gradient computation nested in
   * another asks for the op's gradient once for each; the last to ask releases it (or, if none
   * does, the tape's owner being collected does).
   */
  keepTape?: boolean;
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
  {
    flow = false,
    inputGradient = true,
    stateGradients = true,
    views = false,
    keepTape = false,
  }: BackwardOptions = {},
): Gradients {
  const cell = CELLS[tape.kind];
  const { d } = tape;
  const present: Present = { ...tape.present, flow };
  const { B, T, F, H } = d;
  const G = cell.gates * H;
  // Everything backward reads that the tape does not hold: gradients in and out, and scratch.
  const own = buffersWith(`${cell.backward}:own`, () => {
    const onTape = new Set(Object.keys(tape.chunks[0]!.p));
    return buffersOf(cell.backward).filter((b) => !onTape.has(b.name));
  });
  const chunks = joined(
    tape.chunks,
    placed(d, cell.gates, present, NONE, own, (s) => k.scratch(s)),
  );
  nullAbsent(own.list, present, chunks);
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
  const flags = {
    rev: tape.reverse,
    seq: tape.sequences,
    ...(inputGradient || !k.skipsInputGradient ? {} : { dx: 0 }),
  };
  k.pool.run(chunks.map((c) => kernelCall(cell.backward, [flags, c.d, c.p])));
  const rows = (name: string, perRow: number) => {
    const out = new Float32Array(B * perRow);
    for (const c of chunks) out.set(k.view(c.p[name]!, c.d.B * perRow), c.from * perRow);
    return out;
  };
  // Weight gradients over chunks, in chunk order, summed into the first chunk's buffers.
  const summed = (name: string, n: number) => {
    k.pool.sum(
      chunks.map((c) => c.p[name]!),
      n,
    );
    const at = chunks[0]!.p[name]!;
    return views ? k.view(at, n) : k.read(at, n);
  };
  const grads: Gradients = {
    ...(inputGradient ? { dx: rows("dx", T * F) } : {}),
    dw: summed("dw", F * G),
    du: summed("du", H * G),
    db: summed("db", G),
    dinit: stateGradients ? cell.dstates.map((s) => rows(s, H)) : [],
    ...(flow ? { flow: measureFlow(k, tape, chunks) } : {}),
  };
  if (!keepTape) tape.release();
  return grads;
}

/**
 * What the gradient-flow monitor reads from a backward pass: the norm of every live step's state
 * gradient (the kernels give ‖dh‖², dhn), and the saturation of the gates the state flows through,
 * counted by the kernels on the forward pass's tape (sat): the forget gate and candidate of an LSTM,
 * the update gate and candidate of a GRU, the state itself (a tanh) of a SimpleRNN, at live steps.
 * Saturated means within 0.01 of 0 or 1 for a gate and beyond ±0.99 for a tanh (issue 15): there the
 * activation's slope is under 0.0099 or 0.0199, so a gradient through it keeps under 2% of itself.
 */
function measureFlow(k: Kernels, tape: Tape, chunks: Chunk[]): StepGradients {
  const { B, T, H } = tape.d;
  const norms = new Float64Array(B * T).fill(Number.NaN);
  const counts = [0, 0, 0];
  let live = 0;
  for (const c of chunks) {
    const rows = c.d.B;
    const dhn = k.view(c.p.dhn!, T * rows);
    const mask = tape.present.masked ? k.view(c.p.mask!, rows * T) : undefined;
    for (let s = 0; s < T; s++) {
      const t = tape.reverse ? T - 1 - s : s;
      for (let b = 0; b < rows; b++) {
        if (mask && mask[b * T + t] === 0) continue;
        norms[(c.from + b) * T + s] = Math.sqrt(dhn[s * rows + b]!);
        live++;
      }
    }
    const sat = new Int32Array(k.view(c.p.sat!, 3).slice().buffer);
    for (let i = 0; i < 3; i++) counts[i]! += sat[i]!;
  }
  const gates = tape.kind === "simpleRNN" ? 0 : live * H;
  return {
    rows: B,
    steps: T,
    norms,
    saturation: {
      gates,
      gatesNear0: counts[0]!,
      gatesNear1: counts[1]!,
      candidates: live * H,
      candidatesSaturated: counts[2]!,
    },
  };
}
