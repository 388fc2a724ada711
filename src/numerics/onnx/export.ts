import type { TrainedModel } from "../../artifacts/model.js";
import { UserError } from "../../core/diagnostic.js";
import { LAYERS } from "../layers/index.js";
import type { AnyLayer, OnnxAttribute, OnnxGraph, Shape } from "../layers/layer.js";
import {
  type ElemType,
  encodeModel,
  type NodeSpec,
  OPSET,
  type TensorSpec,
  type ValueSpec,
} from "./proto.js";

/**
 * A trained model as ONNX models (issue 13): a sequential model as one, a seq2seq model as an
 * encoder (token ids -> the decoder's initial states) and a decoder step (a token and the states ->
 * the next token's probabilities and the next states) for decoding loops. Each layer adds itself
 * through its declaration's `onnx` hook (numerics/layers); this module holds the graph being
 * built, the weights, and the models' inputs and outputs.
 */

/** One ONNX file of an export. */
export interface OnnxFile {
  file: string;
  bytes: Uint8Array;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
}

export interface OnnxOptions {
  /** Key -> value strings every file carries (what a consumer needs to feed the model). */
  metadata: readonly (readonly [string, string])[];
  producerVersion: string;
}

/** A saved TF.js layer: class and config (model.json's form). */
interface SavedLayer {
  class_name: string;
  config: Record<string, unknown> & { name: string };
}

/** The weights of a trained model by TF.js name. */
class Weights {
  private readonly byName = new Map<string, { values: Float32Array; shape: number[] }>();
  constructor(t: TrainedModel) {
    t.weightSpecs.forEach((s, i) =>
      this.byName.set(s.name, { values: t.weights[i]!, shape: s.shape }),
    );
  }

  /** A layer's weight by role: `kernel`, or `forward/kernel` for `bidirectional_2/forward_lstm_2/kernel`. */
  find(layer: string, role: string): { name: string; values: Float32Array; shape: number[] } {
    for (const [name, w] of this.byName) {
      if (!name.startsWith(`${layer}/`)) continue;
      const parts = name.slice(layer.length + 1).split("/");
      const roleOf = parts
        .map((p, i) =>
          i === parts.length - 1 ? p : p.startsWith("forward_") ? "forward" : "backward",
        )
        .join("/");
      if (roleOf === role) return { name, ...w };
    }
    throw new Error(`the trained model has no weight ${role} for layer ${layer}`);
  }
}

/** One ONNX graph under construction. */
class Graph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly added = new Set<string>();
  private count = 0;

  constructor(readonly weights: Weights) {}

  fresh(prefix: string): string {
    return `${prefix}_${++this.count}`;
  }

  node(
    prefix: string,
    op: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    outputs = 1,
  ): string[] {
    const name = this.fresh(`${prefix}/${op}`);
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? name : `${name}:${i}`));
    this.nodes.push({ op, name, inputs, outputs: outs, attributes });
    return outs;
  }

  constant(
    prefix: string,
    values: Float32Array | Int32Array | BigInt64Array,
    dims: readonly number[],
  ): string {
    const name = this.fresh(`${prefix}/const`);
    this.initializers.push({ name, dims, values });
    return name;
  }

  weight(layer: string, role: string): string {
    const w = this.weights.find(layer, role);
    if (!this.added.has(w.name)) {
      this.added.add(w.name);
      this.initializers.push({ name: w.name, dims: w.shape, values: w.values });
    }
    return w.name;
  }
}

/** The running state of a walk through layers: the current tensor, its shape, lengths, states. */
interface Walk {
  tensor: string;
  shape: Shape;
  lengths?: string;
  padding: "pre" | "post";
  states: string[];
}

/** Adds one saved layer to the graph through its declaration; returns the walk after it. */
function addLayer(g: Graph, saved: SavedLayer, at: Walk, initialStates?: readonly string[]): Walk {
  const name = saved.config.name;
  const def: AnyLayer | undefined = LAYERS.ofClass(saved.class_name);
  if (!def?.onnx || !def.fromConfig)
    throw new UserError(`layer ${name} (${saved.class_name}) has no ONNX form`);
  const args = def.fromConfig(saved.config);
  const next: Walk = { ...at, states: [] };
  const view: OnnxGraph = {
    input: at.tensor,
    ...(at.lengths !== undefined ? { lengths: at.lengths } : {}),
    padding: at.padding,
    ...(initialStates ? { initialStates } : {}),
    name,
    weight: (role) => g.weight(name, role),
    values: (role) => g.weights.find(name, role),
    node: (op, inputs, attributes, outputs) => g.node(name, op, inputs, attributes, outputs),
    constant: (values, shape) => g.constant(name, values, shape),
    mask: (lengths) => {
      next.lengths = lengths;
    },
    finalStates: (states) => {
      next.states = [...states];
    },
  };
  next.tensor = def.onnx(args, view);
  next.shape = def.shape(args, at.shape, {
    index: 1,
    fail: (m) => {
      throw new Error(`layer ${name}: ${m}`);
    },
  });
  return next;
}

/** A value's shape for the graph's inputs and outputs: batch and time named, sizes known. */
function dims(shape: Shape): (number | string)[] {
  const last = shape.last ?? "features";
  if (shape.ids) return ["batch", shape.steps ?? "time"];
  return shape.rank === 3 ? ["batch", shape.steps ?? "time", last] : ["batch", last];
}

function model(
  g: Graph,
  o: OnnxOptions,
  file: string,
  doc: string,
  inputs: ValueSpec[],
  outputs: { from: string; spec: ValueSpec }[],
): OnnxFile {
  // Each output is an Identity of the tensor that holds it, under the output's name.
  outputs.forEach(({ from, spec }) =>
    g.nodes.push({
      op: "Identity",
      name: spec.name,
      inputs: [from],
      outputs: [spec.name],
      attributes: {},
    }),
  );
  const spec = outputs.map((x) => x.spec);
  return {
    file,
    bytes: encodeModel({
      name: file.replace(/\.onnx$/, ""),
      doc,
      producerVersion: o.producerVersion,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs,
      outputs: spec,
      metadata: o.metadata,
    }),
    inputs,
    outputs: spec,
  };
}

const value = (name: string, type: ElemType, shape: Shape, doc: string): ValueSpec => ({
  name,
  type,
  shape: dims(shape),
  doc,
});

/** The ONNX files of a trained model. */
export function toOnnx(t: TrainedModel, o: OnnxOptions): OnnxFile[] {
  const topology = t.topology as unknown as {
    class_name: string;
    config: { layers: SavedLayer[] };
  };
  const layers = topology.config.layers.filter((l) => l.class_name !== "InputLayer");
  return t.data.target.kind === "tokens" ? seq2seq(t, layers, o) : [sequential(t, layers, o)];
}

function sequential(t: TrainedModel, layers: SavedLayer[], o: OnnxOptions): OnnxFile {
  const g = new Graph(new Weights(t));
  const batchInput = (layers[0]?.config.batch_input_shape ?? []) as (number | null)[];
  const tokens = t.data.input === "tokens";
  const shape: Shape = tokens
    ? { rank: 2, ids: true }
    : { rank: 3, ids: false, ...(batchInput[2] ? { last: batchInput[2] } : {}) };
  const input = value(
    "input",
    tokens ? "int32" : "float32",
    shape,
    tokens
      ? `token ids, ${t.data.padding}-padded with 0 (see the metadata's vocabulary)`
      : `feature vectors per step${t.data.padding === "post" ? ", post-padded" : ""}`,
  );
  let at: Walk = { tensor: "input", shape, padding: t.data.padding, states: [] };
  for (const l of layers) at = addLayer(g, l, at);
  const output = value("output", "float32", at.shape, outputDoc(t));
  return model(
    g,
    o,
    "model.onnx",
    `rnnp model, opset ${OPSET}`,
    [input],
    [{ from: at.tensor, spec: output }],
  );
}

function outputDoc(t: TrainedModel): string {
  const target = t.data.target;
  switch (target.kind) {
    case "class":
      return `class probabilities (classes: ${target.classes.join(", ")})`;
    case "value":
      return "predicted values, scaled as in training (see the metadata's target scaling)";
    case "sequence":
      return "token probabilities at every step";
    default:
      return "the model's output";
  }
}

/** Seq2seq's layers by the names buildSeq2seq gives them. */
function seq2seq(t: TrainedModel, layers: SavedLayer[], o: OnnxOptions): OnnxFile[] {
  const named = (test: (n: string) => boolean) => layers.filter((l) => test(l.config.name));
  const encoder = named((n) => n.startsWith("enc_") && !n.startsWith("enc_state_"));
  const [embedding] = named((n) => n === "dec_embedding");
  const [cell] = named((n) => n.startsWith("dec_") && n !== "dec_embedding" && n !== "dec_out");
  const [output] = named((n) => n === "dec_out");
  if (!embedding || !cell || !output || encoder.length < 2)
    throw new Error("this seq2seq model's layers are not the ones rnnp builds");
  const weights = new Weights(t);
  const size = cell.config.units as number;
  const states = cell.class_name === "LSTM" ? 2 : 1;
  const stateShape: Shape = { rank: 2, ids: false, last: size };
  const stateDoc = (i: number) =>
    `the decoder's ${i === 0 ? "h" : "c"} state [batch, ${size}]${encoder.at(-1)!.class_name === "Bidirectional" ? " (the encoder's two directions concatenated)" : ""}`;

  // Encoder: ids -> the final states of its last recurrent layer.
  const ge = new Graph(weights);
  const ids: Shape = { rank: 2, ids: true };
  let at: Walk = { tensor: "tokens", shape: ids, padding: t.data.padding, states: [] };
  for (const l of encoder) at = addLayer(ge, l, at);
  const enc = model(
    ge,
    o,
    "encoder.onnx",
    `rnnp seq2seq encoder, opset ${OPSET}: token ids -> the decoder's initial states`,
    [value("tokens", "int32", ids, `input token ids, ${t.data.padding}-padded with 0`)],
    at.states.map((s, i) => ({
      from: s,
      spec: value(`state_${i}`, "float32", stateShape, stateDoc(i)),
    })),
  );

  // Decoder step: a token and the states -> the next token's probabilities and the next states.
  const gd = new Graph(weights);
  const one: Shape = { rank: 2, ids: true, steps: 1 };
  const stateInputs = Array.from({ length: states }, (_, i) =>
    value(`state_${i}`, "float32", stateShape, stateDoc(i)),
  );
  let step: Walk = { tensor: "token", shape: one, padding: "post", states: [] };
  step = addLayer(gd, embedding, step);
  step = addLayer(
    gd,
    cell,
    step,
    stateInputs.map((s) => s.name),
  );
  const next = step.states;
  step = addLayer(gd, output, step);
  const dec = model(
    gd,
    o,
    "decoder.onnx",
    `rnnp seq2seq decoder step, opset ${OPSET}: start with <bos> and the encoder's states; feed back the chosen token and the next states until <eos>`,
    [
      value("token", "int32", one, "the previous token's id ([batch, 1]; <bos> first)"),
      ...stateInputs,
    ],
    [
      {
        from: step.tensor,
        spec: value(
          "probabilities",
          "float32",
          step.shape,
          "the next token's probabilities [batch, 1, tokens]",
        ),
      },
      ...next.map((s, i) => ({
        from: s,
        spec: value(`next_state_${i}`, "float32", stateShape, `${stateDoc(i)} after this step`),
      })),
    ],
  );
  return [enc, dec];
}
