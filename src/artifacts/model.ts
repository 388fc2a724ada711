import type { Json } from "../core/canonical.js";

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

/** A trained model: topology and weights (TF.js's own serialisation), history and how it was trained. */
export interface TrainedModel {
  type: "trained";
  topology: Json;
  weightSpecs: WeightSpec[];
  weights: Float32Array[];
  history: EpochRecord[];
  config: Json;
  /** The training data's encoding and targets, so the model can be used on new input. */
  data: Json;
  /** e.g. "exploding gradients in lstm_1 at epoch 3". */
  warnings: string[];
  /** When early stopping restored the best epoch's weights. */
  bestEpoch?: number;
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
