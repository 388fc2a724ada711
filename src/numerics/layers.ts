import type { ParamProblem } from "../stages/kind.js";
import { p, type CallOf, type ParamsSpec } from "../stages/schema.js";
import type { SequenceInfo } from "../artifacts/sequences.js";
import type { TF } from "./tf.js";

/**
 * The layers a `model { ... }` block may hold: their parameters (checked by the language like any
 * stage's), their shapes (inferred before anything runs, so a misplaced layer is an error at its
 * line, not a TensorFlow.js stack trace), and how each becomes a TF.js layer with seeded initialisers
 * and a fixed name (TF.js would otherwise number names per process, and bytes would depend on it).
 */
const ACTIVATIONS = [
  "linear",
  "tanh",
  "sigmoid",
  "relu",
  "elu",
  "selu",
  "softmax",
  "softplus",
  "softsign",
  "hardSigmoid",
  "swish",
] as const;

const rnn = {
  units: p.int("Size of the hidden state.", { min: 1 }),
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
const gated = {
  ...rnn,
  recurrentActivation: p.oneOf("Activation of the gates.", ACTIVATIONS).default("sigmoid"),
};
const dense = {
  units: p.int("Output size.", { min: 1 }),
  activation: p.oneOf("Activation.", ACTIVATIONS).default("linear"),
};
const RECURRENT = { simpleRNN: rnn, lstm: gated, gru: gated };

export const LAYERS: Record<string, ParamsSpec> = {
  embedding: {
    dim: p.int("Size of each token's vector.", { min: 1 }),
    mask: p.bool("Treat id 0 (<pad>) as padding: later layers skip it.").default(false),
    inputDim: p.int("Number of token ids (default: the vocabulary's size).", { min: 1 }).optional(),
  },
  ...RECURRENT,
  bidirectional: {
    layer: p.call("The recurrent layer to run both ways.", RECURRENT).positional(),
    merge: p
      .oneOf("How the two directions combine.", ["concat", "sum", "mul", "ave"])
      .default("concat"),
  },
  dropout: { rate: p.number("Share of inputs dropped during training.", { min: 0, max: 0.99 }) },
  dense,
  timeDistributed: { layer: p.call("The layer applied at every step.", { dense }).positional() },
  masking: { value: p.number("Steps whose features all equal this are skipped.").default(0) },
  layerNormalization: {
    epsilon: p.number("Added to the variance.", { greaterThan: 0 }).default(1e-3),
  },
};

export type LayerCall = CallOf<Record<string, unknown>>;
const arg = <T>(l: LayerCall, name: string) => l.args[name] as T;

/** A symbolic shape: [batch, time, features] (rank 3) or [batch, features] (rank 2); ids are rank 2. */
interface Shape {
  rank: 2 | 3;
  ids: boolean;
  last?: number;
}

const describeShape = (s: Shape) =>
  s.ids
    ? "token ids [batch, time]"
    : s.rank === 3
      ? `a sequence [batch, time, ${s.last ?? "features"}]`
      : `a vector [batch, ${s.last ?? "features"}]`;

function recurrentOut(inner: LayerCall, width: number): Shape {
  return arg<boolean>(inner, "returnSequences")
    ? { rank: 3, ids: false, last: width }
    : { rank: 2, ids: false, last: width };
}

/** Checks the layer sequence against the data; problems name the layer (`layers.i`). */
export function checkLayers(layers: LayerCall[], data: SequenceInfo | undefined): ParamProblem[] {
  const problems: ParamProblem[] = [];
  if (layers.length === 0)
    return [{ param: "layers", message: "a model needs at least one layer" }];
  let shape: Shape | undefined = data
    ? data.input === "tokens"
      ? { rank: 2, ids: true }
      : { rank: 3, ids: false, ...(data.features ? { last: data.features } : {}) }
    : undefined;
  let lost = false; // after a layer that cannot take its input, later shapes would be guesses
  layers.forEach((l, i) => {
    if (lost) return;
    const at = `layers.${i}`;
    const fail = (message: string, hint?: string) =>
      problems.push({ param: at, message, ...(hint ? { hint } : {}) });
    if (!shape) shape = l.call === "embedding" ? { rank: 2, ids: true } : { rank: 3, ids: false };
    const input: Shape = shape;
    if (input.ids && l.call !== "embedding") {
      fail(
        `${l.call} cannot take token ids`,
        "start the model with embedding(dim: ...), or encode with oneHot: true",
      );
      lost = true;
      return;
    }
    switch (l.call) {
      case "embedding":
        if (!input.ids)
          fail(
            `embedding takes token ids, but its input is ${describeShape(input)}`,
            i === 0
              ? "the data holds features already: drop the embedding"
              : "an embedding must be the first layer",
          );
        shape = { rank: 3, ids: false, last: arg<number>(l, "dim") };
        break;
      case "simpleRNN":
      case "lstm":
      case "gru":
      case "bidirectional": {
        if (input.rank !== 3)
          fail(
            `${l.call} reads a sequence, but its input is ${describeShape(input)}`,
            "set returnSequences: true on the recurrent layer before it",
          );
        const inner = l.call === "bidirectional" ? (l.args.layer as LayerCall) : l;
        const units = arg<number>(inner, "units");
        shape = recurrentOut(
          inner,
          l.call === "bidirectional" && arg<string>(l, "merge") === "concat" ? 2 * units : units,
        );
        break;
      }
      case "timeDistributed":
        if (input.rank !== 3)
          fail(
            `timeDistributed applies a layer at every step, but its input is ${describeShape(input)}`,
            "set returnSequences: true on the recurrent layer before it",
          );
        shape = { rank: 3, ids: false, last: arg<number>(l.args.layer as LayerCall, "units") };
        break;
      case "masking":
        if (input.rank !== 3)
          fail(`masking works on sequences, but its input is ${describeShape(input)}`);
        break;
      case "dense":
        shape = { ...input, last: arg<number>(l, "units") };
        break;
      default:
        break; // dropout, layerNormalization keep the shape
    }
  });
  const out = lost ? undefined : (shape as Shape | undefined);
  const last = layers[layers.length - 1]!;
  if (out && data?.target === "class") {
    if (out.rank !== 2) {
      problems.push({
        param: `layers.${layers.length - 1}`,
        message: `a classifier must give one vector per example, but this model ends with ${describeShape(out)}`,
        hint: "set returnSequences: false on the last recurrent layer",
      });
    } else if (
      last.call !== "dense" ||
      !["softmax", "sigmoid"].includes(arg<string>(last, "activation"))
    ) {
      problems.push({
        param: `layers.${layers.length - 1}`,
        message: "a classifier must end with class probabilities",
        hint: 'end with dense(units: <classes>, activation: "softmax")',
      });
    }
  }
  if (out && data?.target === "sequence") {
    const inner = last.call === "timeDistributed" ? (last.args.layer as LayerCall) : last;
    if (out.rank !== 3) {
      problems.push({
        param: `layers.${layers.length - 1}`,
        message: `a token-per-step model must give a vector at every step, but this model ends with ${describeShape(out)}`,
        hint: "set returnSequences: true on the last recurrent layer",
      });
    } else if (inner.call !== "dense" || arg<string>(inner, "activation") !== "softmax") {
      problems.push({
        param: `layers.${layers.length - 1}`,
        message: "a token-per-step model must end with token probabilities",
        hint: 'end with timeDistributed(dense(units: <target tokens>, activation: "softmax"))',
      });
    }
  }
  if (out && data?.target === "value" && out.rank !== 2) {
    problems.push({
      param: `layers.${layers.length - 1}`,
      message: `a forecaster must give one vector per example, but this model ends with ${describeShape(out)}`,
      hint: "set returnSequences: false on the last recurrent layer",
    });
  }
  return problems;
}

export interface ModelInput {
  /** Token ids with this many distinct ids, or features with this many per step. */
  tokens?: number;
  features?: number;
}

/**
 * Builds the TF.js model with fixed layer names. Its initialisers are all zeros: the real initial
 * weights come from init.ts and travel with the model artifact, so rebuilding from the topology is
 * cheap and initialisation never depends on the backend.
 */
export function buildModel(tf: TF, layers: LayerCall[], input: ModelInput) {
  const L = tf.layers;
  const zeros = "zeros" as const;
  const recurrent = (l: LayerCall, name: string, extra: object) => {
    const cfg = {
      units: arg<number>(l, "units"),
      activation: arg<never>(l, "activation"),
      dropout: arg<number>(l, "dropout"),
      recurrentDropout: arg<number>(l, "recurrentDropout"),
      returnSequences: arg<boolean>(l, "returnSequences"),
      goBackwards: arg<boolean>(l, "goBackwards"),
      kernelInitializer: zeros,
      recurrentInitializer: zeros,
      biasInitializer: zeros,
      name,
      ...extra,
    };
    if (l.call === "lstm")
      return L.lstm({
        ...cfg,
        recurrentActivation: arg<never>(l, "recurrentActivation"),
        unitForgetBias: false,
      });
    if (l.call === "gru")
      return L.gru({ ...cfg, recurrentActivation: arg<never>(l, "recurrentActivation") });
    return L.simpleRNN(cfg);
  };
  const denseLayer = (l: LayerCall, name: string, extra: object = {}) =>
    L.dense({
      units: arg<number>(l, "units"),
      activation: arg<never>(l, "activation"),
      kernelInitializer: zeros,
      biasInitializer: zeros,
      name,
      ...extra,
    });
  const model = tf.sequential({ name: "model" });
  layers.forEach((l, i) => {
    const name = `${l.call}_${i + 1}`;
    const first =
      i === 0 ? { inputShape: input.tokens !== undefined ? [null] : [null, input.features!] } : {};
    switch (l.call) {
      case "embedding":
        model.add(
          L.embedding({
            inputDim: arg<number | undefined>(l, "inputDim") ?? input.tokens!,
            outputDim: arg<number>(l, "dim"),
            maskZero: arg<boolean>(l, "mask"),
            embeddingsInitializer: zeros,
            name,
            ...first,
          }),
        );
        break;
      case "simpleRNN":
      case "lstm":
      case "gru":
        model.add(recurrent(l, name, first));
        break;
      case "bidirectional": {
        const inner = l.args.layer as LayerCall;
        model.add(
          L.bidirectional({
            layer: recurrent(inner, `${inner.call}_${i + 1}`, {}) as never,
            mergeMode: arg<never>(l, "merge"),
            name,
            ...first,
          }),
        );
        break;
      }
      case "dropout":
        model.add(L.dropout({ rate: arg<number>(l, "rate"), name, ...first }));
        break;
      case "dense":
        model.add(denseLayer(l, name, first));
        break;
      case "timeDistributed":
        model.add(
          L.timeDistributed({
            layer: denseLayer(l.args.layer as LayerCall, `dense_${i + 1}`),
            name,
            ...first,
          }),
        );
        break;
      case "masking":
        model.add(L.masking({ maskValue: arg<number>(l, "value"), name, ...first }));
        break;
      case "layerNormalization":
        model.add(
          L.layerNormalization({
            epsilon: arg<number>(l, "epsilon"),
            gammaInitializer: zeros,
            betaInitializer: zeros,
            name,
            ...first,
          }),
        );
        break;
      default:
        throw new Error(`unknown layer ${l.call}`);
    }
  });
  return model;
}

/** One line per layer for summaries: "lstm(64)". */
export function layerSummary(l: LayerCall): string {
  const inner = l.args.layer as LayerCall | undefined;
  const size = (x: LayerCall) =>
    (x.args.units ?? x.args.dim ?? x.args.rate ?? "") as number | string;
  return inner ? `${l.call}(${inner.call}(${size(inner)}))` : `${l.call}(${size(l)})`;
}
