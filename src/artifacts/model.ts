import type { Json } from "../core/canonical.js";
import type { TextEncoding, WindowEncoding } from "./sequences.js";
import type { Scaling } from "./table.js";

/** A weight as TF.js names and shapes it. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32";
}

/**
 * An untrained model: its TF.js layers topology and its seeded initial weights (computed by rnnp,
 * see numerics/init.ts; the topology's own initialisers are zeros), and what it expects.
 */
export interface ModelSpec {
  type: "model";
  /** `model.toJSON()` of TF.js: class names and layer configs. */
  topology: Json;
  weightSpecs: WeightSpec[];
  weights: Float32Array[];
  input: { dtype: "int32" | "float32"; shape: (number | null)[] };
  output: { shape: (number | null)[]; activation: string };
  params: number;
  summary: string[];
}

/** What is known of a model before it is built: enough to check a training batch's size against. */
export interface ModelInfo {
  kind: "model";
  /** Its parameters, those whose size comes from the data (an embedding's vocabulary) left out. */
  params: number;
  /** Floats of one example's layer outputs, when the data's length is known. */
  activations?: number;
  /** Its layers by name, with their weights' shapes (undefined where the data decides). */
  layers?: LayerInfo[];
}

export interface LayerInfo {
  name: string;
  weights: { role: string; shape: (number | undefined)[] }[];
}

/** What is known of a trained model before it is trained: its layers, how it is trained. */
export interface TrainedInfo {
  kind: "trained";
  layers?: LayerInfo[];
  /** The optimizer it is trained with (adam). */
  optimizer?: string;
}

/**
 * An optimizer's state after training (Keras keeps it in a saved model too): its step count, its
 * slots per trained weight (adam: first and second moments), and scalars it keeps besides, exact.
 */
export interface OptimizerState {
  call: string;
  iterations: number;
  /** The weights the slots belong to, by name, in the optimizer's order. */
  weights: string[];
  /** slots[s][i]: slot s of weight i. */
  slots: Float32Array[][];
  /** Adam's running powers of beta1 and beta2, as float32 (recomputing them would round otherwise). */
  scalars: Record<string, number>;
}

/** Where a fine-tuned model's weights came from. */
export interface Transfer {
  /** Layers whose weights came from `init`. */
  taken: string[];
  /** Embeddings that took init's rows and keep their own for the ids added since. */
  grown: { layer: string; rows: number; of: number }[];
  /** Layers that kept their own initial weights (new, or listed in reinit). */
  initialised: string[];
  /** Layers whose weights did not train. */
  frozen: string[];
  optimizer: "reset" | "continued";
}

/** What the trained model predicts, and how its outputs read (classes, value names and scaling, tokens). */
export type TrainedTarget =
  | { kind: "class"; classes: string[] }
  | {
      kind: "value";
      names: string[];
      horizon: number;
      size: number;
      scaling?: Record<string, Scaling>;
    }
  | { kind: "sequence"; tokens: string[]; level: "char" | "word" }
  | {
      kind: "tokens";
      tokens: string[];
      level: "char" | "word";
      length: number;
      bos: number;
      eos: number;
    }
  | { kind: "none" };

/** The training data's encoding and target, so that new input is encoded and outputs read the same way. */
export interface TrainedData {
  input: "tokens" | "features";
  padding: "pre" | "post";
  target: TrainedTarget;
  text?: TextEncoding;
  window?: WindowEncoding;
}

/** A trained model: topology and weights (TF.js's own serialisation), history and how it was trained. */
export interface TrainedModel {
  type: "trained";
  topology: Json;
  weightSpecs: WeightSpec[];
  weights: Float32Array[];
  history: EpochRecord[];
  config: Json;
  /** The training data's encoding and targets, so the model can be used on new input. */
  data: TrainedData;
  /**
   * What the training loop noticed, with the evidence and a remedy: gradients that vanish or explode
   * through time, saturated gates, a loss that rises, diverges, stalls, or parts from validation.
   */
  warnings: string[];
  /** When early stopping restored the best epoch's weights. */
  bestEpoch?: number;
  /** The optimizer's state after the last epoch, to continue from (train's init, resetOptimizer: false). */
  optimizer?: OptimizerState;
  /** A model that started from another's weights: which layers came from where. */
  transfer?: Transfer;
  /** Where training stands after its last epoch, to continue from (train's checkpoints). */
  progress?: TrainProgress;
  /**
   * The loss of the best constant prediction on the training data (the class frequencies for
   * cross-entropy, the mean for mse, the median for mae): the baseline a trained model must beat.
   * Absent where no constant prediction applies (an encoder-decoder's token sequences).
   */
  baselineLoss?: number;
}

/**
 * What training needs besides weights and optimizer state to go on exactly as if it had never
 * stopped: the epochs done, early stopping's state, the warnings given once.
 */
export interface TrainProgress {
  epoch: number;
  /** Early stopping ended the training: more epochs add nothing. */
  stopped: boolean;
  best?: { value: number; epoch: number };
  /** Epochs without improvement since the best. */
  waited: number;
  /** Keys of the warnings given while training (each is given once). */
  warned: string[];
  /** Those warnings' texts; the artifact's warnings add those about the whole run. */
  epochWarnings?: string[];
  /** The weights training goes on with, when `weights` are the best epoch's (restoreBest). */
  weights?: Float32Array[];
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  loss: number;
  metrics: Record<string, number>;
  valLoss?: number;
  valMetrics?: Record<string, number>;
  /** Mean global gradient norm over the epoch's batches (before clipping). */
  gradNorm: number;
  /** Mean gradient norm per layer. */
  layerGradNorms: Record<string, number>;
  /** Gradient flow through time of each recurrent layer (absent with `gradientFlow: false`). */
  flow?: LayerFlow[];
}

/**
 * How the gradient of one recurrent layer's hidden state flowed back through time in one epoch, as
 * measured during backpropagation through time (src/numerics/flow.ts). The data of a heatmap: one row
 * per epoch, `norms` along the steps.
 */
export interface LayerFlow {
  /** The layer as the run output names it: `lstm_2`, `bidirectional_1 (backward)`. */
  layer: string;
  cell: "lstm" | "gru" | "simpleRNN";
  /** Measured on rnnp's fused kernels, or on TF.js's cells (`--kernels tfjs`: no gate statistics). */
  source: "kernels" | "tfjs";
  /**
   * norms[k]: ‖∂loss/∂h‖ at the k-th step before each sequence's last step (k = 0: the last step), in
   * the order the layer reads its input (a backward layer's last step is the first token), steps the
   * mask skips not counted; ∂loss is of each example's own loss (a batch's loss is the mean of its
   * examples'), averaged over the epoch's training sequences. Its length is the longest sequence's
   * number of steps. 6 significant digits.
   */
  norms: number[];
  /** Steps back (the last counted) over which norms[k] >= 1% of norms[0]: how far back the layer learns. */
  horizon: number;
  /** Geometric mean of norms[k+1] / norms[k] over the steps before norms reach an exact 0 (float32 underflow): below 1 the gradient vanishes going back, above 1 it explodes. 0 if it is 0 one step back; null with under two steps. */
  growth: number | null;
  /**
   * Fractions of saturated activations over the epoch's live steps (fused kernels only): the forget
   * (LSTM) or update (GRU) gate within 0.01 of 0 and of 1, and the candidate (SimpleRNN: the state)
   * beyond ±0.99 of its tanh.
   */
  saturation?: { gates?: { near0: number; near1: number }; candidates: number };
}

/**
 * A trained model's record of its training without its weights: what `rnnp show --json` gives for it
 * (`jq '.outputs.out.training.history[-1].flow'`: the last epoch's gradient flow per layer).
 */
export function trainingRecord(t: TrainedModel) {
  return {
    history: t.history,
    warnings: t.warnings,
    config: t.config,
    ...(t.bestEpoch !== undefined ? { bestEpoch: t.bestEpoch } : {}),
    ...(t.baselineLoss !== undefined ? { baselineLoss: t.baselineLoss } : {}),
  };
}

export function describeModel(m: ModelSpec): string {
  return `model, ${m.params} parameters: ${m.summary.join(" -> ")}`;
}

/** The epoch whose weights the model holds: the best one when early stopping restored it, else the last. */
export function weightsEpoch(t: TrainedModel): {
  epoch: EpochRecord | undefined;
  restored: boolean;
} {
  const restored =
    t.bestEpoch !== undefined &&
    (t.config as { restoreBest?: boolean } | null)?.restoreBest !== false;
  return {
    epoch: restored ? t.history.find((e) => e.epoch === t.bestEpoch) : t.history.at(-1),
    restored,
  };
}

export function describeTrained(t: TrainedModel): string {
  const { epoch: e, restored } = weightsEpoch(t);
  const m = e
    ? Object.entries({
        loss: e.loss,
        ...e.metrics,
        ...(e.valLoss !== undefined ? { val_loss: e.valLoss } : {}),
        ...Object.fromEntries(Object.entries(e.valMetrics ?? {}).map(([k, v]) => [`val_${k}`, v])),
      })
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(", ")
    : "";
  const which = restored
    ? `weights restored from epoch ${e?.epoch} (the best)`
    : `weights of epoch ${e?.epoch ?? 0}${t.bestEpoch !== undefined ? ` (best was ${t.bestEpoch}, not restored)` : ""}`;
  return `trained model, ${t.history.length} epochs, ${which}: ${m}`;
}
