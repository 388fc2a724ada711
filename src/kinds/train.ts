import type { Json } from "../core/canonical.js";
import { DiagnosticError, UserError } from "../core/diagnostic.js";
import { defineKind } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type { TrainedData, TrainedModel, TrainedTarget } from "../artifacts/model.js";
import { count, type SequenceSet } from "../artifacts/sequences.js";
import { batchSizeProblems } from "../numerics/limits.js";
import { LOSSES, resolveLoss } from "../numerics/losses.js";
import { OPTIMIZER_VARIANTS, SCHEDULE_VARIANTS } from "../numerics/optimizers.js";
import { NonFiniteLoss, train as trainLoop } from "../numerics/train.js";
import { readWeights, restoreModel } from "../numerics/weights.js";

const MONITORS = ["val_loss", "loss", "val_accuracy", "accuracy", "val_mae", "mae"] as const;

export const train = defineKind({
  name: "train",
  // 2: the artifact's `data` describes target sequences of their own length (seq2seq) completely.
  // 3: gradient flow through time per recurrent layer and epoch (history[].flow), the baseline
  // loss, and warnings from both (and from the loss's trajectory) instead of fixed thresholds.
  version: 3,
  doc: "Trains a model on sequences: seeded shuffles and dropout, optimizers with schedules and warm-up, clipping by global norm or value, class weights, early stopping with restore-best, and a NaN guard. The artifact holds topology, weights, history and config.",
  params: {
    epochs: p.int("Passes over the training data.", { min: 1 }),
    batchSize: p.int("Examples per step.", { min: 1 }).default(32),
    loss: p.oneOf("Loss; auto: cross-entropy for classes, mse for values.", LOSSES).default("auto"),
    optimizer: p
      .call("Optimizer, e.g. adam(lr: 0.001).", OPTIMIZER_VARIANTS)
      .default({ call: "adam", args: { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } }),
    schedule: p
      .call("Learning-rate schedule over epochs.", SCHEDULE_VARIANTS)
      .default({ call: "constant", args: {} }),
    warmup: p.number("Epochs of linear learning-rate warm-up.", { min: 0 }).default(0),
    clipNorm: p
      .number("Scale gradients down when their global norm exceeds this.", { greaterThan: 0 })
      .optional(),
    clipValue: p
      .number("Clip each gradient element to [-clipValue, clipValue].", { greaterThan: 0 })
      .optional(),
    shuffle: p
      .bool("Shuffle the examples (or buckets) every epoch, with a seeded generator.")
      .default(true),
    classWeights: p
      .either(
        '"balanced" (inverse class frequency) or {label: weight}.',
        p.oneOf("", ["none", "balanced"]),
        p.map(p.number("weight", { min: 0 }), ""),
      )
      .default("none"),
    patience: p
      .int("Early stopping: epochs without improvement before stopping.", { min: 1 })
      .optional(),
    monitor: p.oneOf("Early stopping: the quantity watched.", MONITORS).default("val_loss"),
    minDelta: p
      .number("Early stopping: the least change that counts as improvement.", { min: 0 })
      .default(0),
    restoreBest: p.bool("Early stopping: end with the best epoch's weights.").default(true),
    gradientFlow: p
      .bool(
        "Record how the gradient of each recurrent layer's state flows back through time (per-step norms, horizon, growth factor, gate saturation) and warn from it. Observes only: the weights are the same either way.",
      )
      .default(true)
      .observing(),
  },
  inputs: {
    model: { type: "model", doc: "The model to train." },
    data: { type: "sequences", doc: "Training sequences." },
    validation: {
      type: "sequences",
      doc: "Validation sequences, for val_loss and early stopping.",
      optional: true,
    },
  },
  outputs: ["out"],
  outputType: "trained",
  random: true,
  backendDependent: true,
  check: (params, inputs) => [
    ...batchSizeProblems(params.batchSize, inputs.model?.activations),
    ...(params.clipNorm !== undefined && params.clipValue !== undefined
      ? [{ param: "clipValue", message: "give clipNorm or clipValue, not both" }]
      : []),
    ...(params.patience === undefined && params.monitor !== "val_loss"
      ? [{ param: "monitor", message: "monitor is for early stopping, which needs `patience`" }]
      : []),
    ...(params.patience === undefined && params.minDelta !== 0
      ? [{ param: "minDelta", message: "minDelta is for early stopping, which needs `patience`" }]
      : []),
    ...(params.patience === undefined && !params.restoreBest
      ? [
          {
            param: "restoreBest",
            message: "restoreBest is for early stopping, which needs `patience`",
          },
        ]
      : []),
    ...(inputs.data?.batched && params.batchSize !== 32
      ? [
          {
            param: "batchSize",
            message: "the data comes in bucket batches, whose size bucket(batchSize: ...) sets",
            hint: "set the size on the bucket stage",
          },
        ]
      : []),
  ],
  async run(ctx, inputs, params): Promise<{ out: TrainedModel }> {
    const { model: spec, data, validation } = inputs;
    compatible(spec.input.dtype, data, "data");
    if (validation) compatible(spec.input.dtype, validation, "validation");
    if (params.monitor.startsWith("val_") && params.patience !== undefined && !validation) {
      throw new DiagnosticError([
        ctx.problem(
          "monitor",
          `monitor: "${params.monitor}" needs validation data`,
          'pass validation: <sequences>, or monitor: "loss"',
        ),
      ]);
    }
    const tf = await ctx.tf();
    const model = await restoreModel(
      tf,
      spec.topology,
      spec.weightSpecs,
      spec.weights,
      ctx.runtime!,
      ctx.log,
    );
    try {
      const units = spec.output.shape.at(-1) ?? 1;
      const loss = resolveLoss(params.loss, data.target.kind, units);
      const cfg = {
        loss,
        optimizer: params.optimizer,
        schedule: params.schedule,
        warmup: params.warmup,
        epochs: params.epochs,
        batchSize: params.batchSize,
        ...(params.clipNorm !== undefined ? { clipNorm: params.clipNorm } : {}),
        ...(params.clipValue !== undefined ? { clipValue: params.clipValue } : {}),
        shuffle: params.shuffle,
        gradientFlow: params.gradientFlow,
        ...classWeighting(params.classWeights, data),
        ...(params.patience !== undefined
          ? {
              earlyStopping: {
                monitor: params.monitor,
                patience: params.patience,
                minDelta: params.minDelta,
                restoreBest: params.restoreBest,
              },
            }
          : {}),
      };
      ctx.log(
        `${count(data)} examples${validation ? `, ${count(validation)} for validation` : ""}; ${spec.params} parameters; loss ${loss}; ${ctx.runtime?.backend ?? "?"} backend`,
      );
      let result: Awaited<ReturnType<typeof trainLoop>>;
      try {
        result = await trainLoop(tf, model, data, validation, cfg, {
          rng: ctx.rng,
          progress: ctx.progress,
          log: ctx.log,
          signal: ctx.signal,
        });
      } catch (e) {
        if (e instanceof NonFiniteLoss) {
          throw new DiagnosticError([
            ctx.problem(
              undefined,
              e.message,
              "lower the learning rate, set clipNorm (e.g. 1.0), or check the data for extreme values",
            ),
          ]);
        }
        throw e;
      }
      return {
        out: {
          type: "trained",
          topology: spec.topology,
          weightSpecs: spec.weightSpecs,
          weights: readWeights(model),
          history: result.history,
          config: { ...(params as unknown as Record<string, Json>), loss },
          data: dataDescription(data),
          warnings: result.warnings,
          ...(result.bestEpoch !== undefined ? { bestEpoch: result.bestEpoch } : {}),
          ...(result.baselineLoss !== undefined ? { baselineLoss: result.baselineLoss } : {}),
        },
      };
    } finally {
      model.dispose();
    }
  },
});

function compatible(dtype: "int32" | "float32", s: SequenceSet, slot: string): void {
  const wants = dtype === "int32" ? "tokens" : "features";
  if (s.input !== wants)
    throw new UserError(`the model reads ${wants}, but \`${slot}\` holds ${s.input}`);
}

/** What a user of the trained model needs to know about its inputs and outputs. */
export function dataDescription(s: SequenceSet): TrainedData {
  const t = s.target;
  const target: TrainedTarget =
    t.kind === "class"
      ? { kind: t.kind, classes: t.classes }
      : t.kind === "value"
        ? {
            kind: t.kind,
            names: t.names,
            horizon: t.horizon,
            size: t.size,
            ...(t.scaling ? { scaling: t.scaling } : {}),
          }
        : t.kind === "sequence"
          ? { kind: t.kind, tokens: t.tokens, level: t.level }
          : t.kind === "tokens"
            ? {
                kind: t.kind,
                tokens: t.tokens,
                level: t.level,
                length: t.length,
                bos: t.bos,
                eos: t.eos,
              }
            : { kind: t.kind };
  return plainJson({
    input: s.input,
    padding: s.padding,
    target,
    ...(s.text ? { text: s.text } : {}),
    ...(s.window ? { window: s.window } : {}),
  });
}

/** The value as JSON would give it back (keys left undefined dropped), as the artifact stores it. */
const plainJson = <T>(value: T): T => JSON.parse(JSON.stringify(value));

export function classWeighting(
  setting: unknown,
  data: SequenceSet,
): { classWeights?: Float32Array } {
  if (setting === "none") return {};
  const t = data.target;
  if (t.kind !== "class") throw new UserError("classWeights apply to class targets only");
  const counts = new Float64Array(t.classes.length);
  for (const y of t.y) counts[y]!++;
  if (setting === "balanced") {
    const n = t.y.length;
    return {
      classWeights: Float32Array.from(counts, (c) => (c > 0 ? n / (t.classes.length * c) : 0)),
    };
  }
  const given = setting as Record<string, number>;
  for (const label of Object.keys(given))
    if (!t.classes.includes(label))
      throw new UserError(
        `classWeights names "${label}", which is not a class (${t.classes.join(", ")})`,
      );
  return { classWeights: Float32Array.from(t.classes, (c) => given[c] ?? 1) };
}
