import { UserError } from "../../core/diagnostic.js";
import type { Activation } from "./activations.js";
import type { OnnxGraph } from "./layer.js";

/**
 * What several layers' `onnx` hooks share: activations as ONNX operators, time reversal, and the
 * recurrent layers as ONNX's RNN, GRU and LSTM operators with TF.js's masking semantics. Tensors
 * are batch first as in TF.js; the recurrent operators run time first (ONNX's layout 0, which every
 * runtime implements).
 */

/** TF.js/Keras activation names as saved in model.json (`hard_sigmoid`) -> rnnp's (`hardSigmoid`). */
export function activationOf(saved: unknown): Activation {
  const name = String(saved).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return name as Activation;
}

/** An activation applied to a tensor, as TF.js computes it. */
export function activate(g: OnnxGraph, activation: string, x: string): string {
  switch (activation) {
    case "linear":
      return x;
    case "softmax":
      return g.node("Softmax", [x], { axis: -1 })[0]!;
    case "hardSigmoid":
      return g.node("HardSigmoid", [x], { alpha: 0.2, beta: 0.5 })[0]!;
    case "elu":
      return g.node("Elu", [x], { alpha: { float: 1 } })[0]!;
    case "swish":
      return g.node("Mul", [x, g.node("Sigmoid", [x])[0]!])[0]!;
    default: {
      const op = OPS.get(activation);
      if (!op) throw new UserError(`${g.name}: the activation ${activation} has no ONNX operator`);
      return g.node(op, [x])[0]!;
    }
  }
}

const OPS = new Map([
  ["tanh", "Tanh"],
  ["sigmoid", "Sigmoid"],
  ["relu", "Relu"],
  ["selu", "Selu"],
  ["softplus", "Softplus"],
  ["softsign", "Softsign"],
]);

/**
 * Activations ONNX's recurrent operators take by name. Their defaults are TF.js's constants
 * (HardSigmoid 0.2x + 0.5, Elu alpha 1), so no alpha or beta is written; `linear` is Affine(1, 0),
 * the operator's default.
 */
const CELL_ACTIVATIONS = new Map([
  ["tanh", "Tanh"],
  ["sigmoid", "Sigmoid"],
  ["relu", "Relu"],
  ["hardSigmoid", "HardSigmoid"],
  ["softsign", "Softsign"],
  ["softplus", "Softplus"],
  ["elu", "Elu"],
]);

function cellActivation(g: OnnxGraph, activation: string): string {
  const op = CELL_ACTIVATIONS.get(activation);
  if (!op)
    throw new UserError(
      `${g.name}: ONNX's recurrent operators have no ${activation} activation (they take ${[...CELL_ACTIVATIONS.keys()].join(", ")})`,
      { hint: "train the layer with one of those to export it to ONNX" },
    );
  return op;
}

/** An int64 tensor's values (ONNX takes axes, shapes and slices as int64). */
export const int64 = (...v: number[]) => BigInt64Array.from(v, BigInt);

/** A tensor reversed along one axis (all of it, not only the true lengths). */
export function reverseAxis(g: OnnxGraph, x: string, axis: number): string {
  return g.node("Slice", [
    x,
    g.constant(int64(-1), [1]),
    g.constant(int64(Number.MIN_SAFE_INTEGER), [1]),
    g.constant(int64(axis), [1]),
    g.constant(int64(-1), [1]),
  ])[0]!;
}

/** Each sequence's first `lengths` steps reversed, the rest left ([time, batch, ...]). */
function reverseEach(g: OnnxGraph, x: string, lengths: string): string {
  const long = g.node("Cast", [lengths], { to: 7 })[0]!;
  return g.node("ReverseSequence", [x, long], { time_axis: 0, batch_axis: 1 })[0]!;
}

/** The three recurrent cells: ONNX's operator, gates, and where each Keras gate goes in ONNX's order. */
const CELLS = {
  simpleRNN: { op: "RNN", gates: 1, order: [0] },
  // Keras: input, forget, cell, output; ONNX: input, output, forget, cell.
  lstm: { op: "LSTM", gates: 4, order: [0, 3, 1, 2] },
  // Keras and ONNX: update (z), reset (r), candidate (h); TF.js applies the reset gate before the
  // recurrent product (Keras's reset_after=False), which is ONNX's linear_before_reset=0.
  gru: { op: "GRU", gates: 3, order: [0, 1, 2] },
} as const;

export type Cell = keyof typeof CELLS;

export interface CellArgs {
  units: number;
  activation: string;
  recurrentActivation?: string;
  goBackwards: boolean;
}

/**
 * A Keras weight [in, gates x units] as ONNX's [1, gates x units, in], gates in ONNX's order; a
 * bias [gates x units] as ONNX's [1, 2 x gates x units] (input bias, then a zero recurrent bias).
 */
function onnxWeights(g: OnnxGraph, cell: Cell, units: number, prefix: string): string[] {
  const { gates, order } = CELLS[cell];
  const transpose = (role: string) => {
    const { values, shape } = g.values(prefix + role);
    const inputs = shape[0]!;
    const out = new Float32Array(values.length);
    order.forEach((k, gate) => {
      for (let u = 0; u < units; u++)
        for (let f = 0; f < inputs; f++)
          out[(gate * units + u) * inputs + f] = values[f * gates * units + k * units + u]!;
    });
    return g.constant(out, [1, gates * units, inputs]);
  };
  const bias = g.values(`${prefix}bias`).values;
  const b = new Float32Array(2 * gates * units);
  order.forEach((k, gate) => b.set(bias.subarray(k * units, (k + 1) * units), gate * units));
  return [
    transpose("kernel"),
    transpose("recurrent_kernel"),
    g.constant(b, [1, 2 * gates * units]),
  ];
}

/** A recurrent layer's results, batch first: every step's output in TF.js's order, and the final states. */
export interface Recurrence {
  /** [batch, time, units], in the order the layer read the steps (reversed for goBackwards, as TF.js gives it). */
  sequence: string;
  /** [batch, units] each: h (and c for an LSTM). */
  states: string[];
}

/**
 * One recurrent layer over `x` ([batch, time, features]), as TF.js runs it: with a mask, a padded
 * step leaves the state as it is and outputs the previous step's output. ONNX's operators instead
 * read the first `sequence_lens` steps, so the true steps are first brought to the front in
 * reading order (reversals), run forwards, and the outputs put back where TF.js has them: padding
 * read after the true steps repeats the last output, padding read before them gives zeros.
 */
export function recurrence(
  g: OnnxGraph,
  cell: Cell,
  a: CellArgs,
  x: string,
  o: { prefix?: string; initialStates?: readonly string[] } = {},
): Recurrence {
  const activations =
    cell === "simpleRNN"
      ? [cellActivation(g, a.activation)]
      : cell === "gru"
        ? [cellActivation(g, a.recurrentActivation!), cellActivation(g, a.activation)]
        : [
            cellActivation(g, a.recurrentActivation!),
            cellActivation(g, a.activation),
            cellActivation(g, a.activation),
          ];
  const [W, R, B] = onnxWeights(g, cell, a.units, o.prefix ?? "");
  const timeFirst = (t: string) => g.node("Transpose", [t], { perm: [1, 0, 2] })[0]!;
  // The steps in the order the layer reads them.
  const read = a.goBackwards ? reverseAxis(g, timeFirst(x), 0) : timeFirst(x);
  const lengths = g.lengths;
  // Where the padding is in reading order: after the true steps, or before them.
  const padLast = lengths !== undefined && (g.padding === "post") !== a.goBackwards;
  // onnxruntime refuses a length of 0 (a sequence of padding only): it reads one step, and the
  // results of such rows are replaced below by what TF.js gives (zeros, or the initial state).
  const atLeastOne = lengths && g.node("Max", [lengths, g.constant(Int32Array.of(1), [1])])[0]!;
  const input = atLeastOne && !padLast ? reverseEach(g, reverseAxis(g, read, 0), atLeastOne) : read;
  const initial = (o.initialStates ?? []).map(
    (s) => g.node("Unsqueeze", [s, g.constant(int64(0), [1])])[0]!,
  );
  const inputs = [input, W!, R!, B!, atLeastOne ?? "", ...initial];
  while (inputs.at(-1) === "") inputs.pop();
  const outs = g.node(
    CELLS[cell].op,
    inputs,
    {
      hidden_size: a.units,
      direction: "forward",
      activations,
      ...(cell === "gru" ? { linear_before_reset: 0 } : {}),
    },
    cell === "lstm" ? 3 : 2,
  );
  // Y [time, 1, batch, units] -> [time, batch, units]; Y_h, Y_c [1, batch, units] -> [batch, units].
  let steps = g.node("Squeeze", [outs[0]!, g.constant(int64(1), [1])])[0]!;
  let states = outs.slice(1).map((s) => g.node("Squeeze", [s, g.constant(int64(0), [1])])[0]!);
  if (lengths !== undefined) {
    const some = g.node("Unsqueeze", [
      g.node("Greater", [lengths, g.constant(Int32Array.of(0), [])])[0]!,
      g.constant(int64(1), [1]),
    ])[0]!;
    const zero = g.constant(Float32Array.of(0), []);
    states = states.map(
      (s, i) => g.node("Where", [some, s, initial[i] ? o.initialStates![i]! : zero])[0]!,
    );
    if (padLast) {
      // Steps past a sequence's length repeat its last output (h).
      const time = g.node("Shape", [steps], { start: 0, end: 1 })[0]!;
      const index = g.node("Range", [
        g.constant(int64(0), []),
        g.node("Squeeze", [time])[0]!,
        g.constant(int64(1), []),
      ])[0]!;
      const valid = g.node("Less", [
        g.node("Unsqueeze", [index, g.constant(int64(1), [1])])[0]!,
        g.node("Unsqueeze", [
          g.node("Cast", [lengths], { to: 7 })[0]!,
          g.constant(int64(0), [1]),
        ])[0]!,
      ])[0]!;
      const keep = g.node("Unsqueeze", [valid, g.constant(int64(2), [1])])[0]!;
      steps = g.node("Where", [keep, steps, states[0]!])[0]!;
    } else {
      // The true steps' outputs go back after the padding, which gave zeros.
      steps = reverseAxis(g, reverseEach(g, steps, atLeastOne!), 0);
      steps = g.node("Where", [
        g.node("Unsqueeze", [some, g.constant(int64(0), [1])])[0]!,
        steps,
        zero,
      ])[0]!;
    }
  }
  return { sequence: timeFirst(steps), states };
}
