import { p, type ParamValues } from "../../stages/schema.js";
import type { InitRule } from "../init.js";
import { INIT } from "../init.js";
import { MAX_UNITS } from "../limits.js";
import { ACTIVATIONS } from "./activations.js";
import { activationOf, type Cell, recurrence } from "./onnx.js";
import {
  type BuildSite,
  describeShape,
  type OnnxGraph,
  type Shape,
  type ShapeSite,
  type WeightDecl,
  ZEROS,
} from "./layer.js";

/**
 * What the three recurrent layers (simpleRNN, lstm, gru) share: their parameters, their shape rule,
 * the layout of their weights, and their TF.js configuration. Each layer's own file says what is
 * its own (gates, bias rule, fused cell).
 */
export const rnnParams = {
  units: p.int("Size of the hidden state.", { min: 1, max: MAX_UNITS }),
  activation: p.oneOf("Activation of the candidate state.", ACTIVATIONS).default("tanh"),
  dropout: p.number("Dropout on the inputs, during training.", { min: 0, max: 0.99 }).default(0),
  recurrentDropout: p
    .number("Dropout on the recurrent state, during training.", { min: 0, max: 0.99 })
    .default(0),
  returnSequences: p
    .bool("Give the state at every step (for stacking, or per-step outputs), not only the last.")
    .default(false),
  goBackwards: p.bool("Read the sequence backwards.").default(false),
};

export const gatedParams = {
  ...rnnParams,
  recurrentActivation: p.oneOf("Activation of the gates.", ACTIVATIONS).default("sigmoid"),
};

export type RnnArgs = ParamValues<typeof rnnParams>;

/** A recurrent layer reads a sequence; it gives the state of every step, or of the last. */
export function recurrentShape(
  name: string,
  width: number,
  returnSequences: boolean,
  input: Shape,
  at: ShapeSite,
): Shape {
  if (input.rank !== 3)
    at.fail(
      `${name} reads a sequence, but its input is ${describeShape(input)}`,
      "set returnSequences: true on the recurrent layer before it",
    );
  return returnSequences
    ? { rank: 3, ids: false, last: width, ...(input.steps ? { steps: input.steps } : {}) }
    : { rank: 2, ids: false, last: width };
}

/** kernel [features, gates x units], recurrent_kernel [units, gates x units], bias [gates x units]. */
export function cellWeights(
  units: number,
  gates: number,
  input: Shape,
  bias: InitRule,
): WeightDecl[] {
  return [
    { role: "kernel", shape: [input.last, gates * units], init: INIT.glorotUniform },
    { role: "recurrent_kernel", shape: [units, gates * units], init: INIT.orthogonal },
    { role: "bias", shape: [gates * units], init: bias },
  ];
}

/** TF.js's configuration of a recurrent layer from its arguments. */
export function recurrentConfig(a: RnnArgs, at: BuildSite) {
  return {
    units: a.units,
    activation: a.activation,
    dropout: a.dropout,
    recurrentDropout: a.recurrentDropout,
    returnSequences: a.returnSequences,
    goBackwards: a.goBackwards,
    kernelInitializer: ZEROS,
    recurrentInitializer: ZEROS,
    biasInitializer: ZEROS,
    name: at.name,
    ...at.config,
  };
}

export type GatedArgs = ParamValues<typeof gatedParams>;

/** A recurrent layer's arguments, read back from its saved TF.js config. */
export function rnnFromConfig(c: Readonly<Record<string, unknown>>): RnnArgs {
  return {
    units: c.units as number,
    activation: activationOf(c.activation),
    dropout: c.dropout as number,
    recurrentDropout: c.recurrent_dropout as number,
    returnSequences: c.return_sequences as boolean,
    goBackwards: c.go_backwards as boolean,
  };
}

export function gatedFromConfig(c: Readonly<Record<string, unknown>>): GatedArgs {
  return { ...rnnFromConfig(c), recurrentActivation: activationOf(c.recurrent_activation) };
}

/** A recurrent layer as ONNX nodes: its sequence or last output; its final states go to the graph. */
export function recurrentOnnx(cell: Cell, a: RnnArgs | GatedArgs, g: OnnxGraph): string {
  const r = recurrence(
    g,
    cell,
    a,
    g.input,
    g.initialStates ? { initialStates: g.initialStates } : {},
  );
  g.finalStates(r.states);
  return a.returnSequences ? r.sequence : r.states[0]!;
}
