import type { Json } from "../core/canonical.js";
import { DiagnosticError, UserError } from "../core/diagnostic.js";
import { defineKind, type ParamProblem, type StageContext } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type {
  ModelInfo,
  ModelSpec,
  OptimizerState,
  TrainedData,
  TrainedInfo,
  TrainedModel,
  TrainedTarget,
} from "../artifacts/model.js";
import {
  checkMeaning,
  sharedLayers,
  type TransferResult,
  transferWeights,
} from "../numerics/transfer.js";
import { count, type SequenceSet } from "../artifacts/sequences.js";
import { batchSizeProblems } from "../numerics/limits.js";
import { LOSSES, resolveLoss } from "../numerics/losses.js";
import { OPTIMIZER_VARIANTS, SCHEDULE_VARIANTS } from "../numerics/optimizers.js";
import {
  NonFiniteLoss,
  type TrainConfig,
  type TrainResult,
  train as trainLoop,
} from "../numerics/train.js";
import { restoreModel } from "../numerics/weights.js";

const MONITORS = ["val_loss", "loss", "val_accuracy", "accuracy", "val_mae", "mae"] as const;

export const train = defineKind({
  name: "train",
  // 2: the artifact's `data` describes target sequences of their own length (seq2seq) completely.
  // 3: the artifact keeps the optimizer's state (to continue from with init, resetOptimizer: false);
  //    the seed leaves out epochs (see seedIgnores); dropout masks come from a stream per epoch;
  //    gradient flow through time per recurrent layer and epoch (history[].flow), the baseline
  //    loss, and warnings from both (and from the loss's trajectory) instead of fixed thresholds.
  // 4: both 3s at once (they were made on parallel branches: one number per meaning).
  version: 4,
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
    freeze: p
      .list(p.string("layer"), 'Layers whose weights do not train, e.g. ["embedding_1"].')
      .optional(),
    reinit: p
      .list(
        p.string("layer"),
        'With init: layers that keep their own initial weights instead of init\'s (a new head), e.g. ["dense_4"].',
      )
      .optional(),
    resetOptimizer: p
      .bool(
        "With init: start a fresh optimizer (true), or continue init's optimizer state, step count and moments (false).",
      )
      .default(true),
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
    init: {
      type: "trained",
      doc: "A trained model to start from: its weights, matched by layer name and shape (fine-tuning, transfer).",
      optional: true,
    },
  },
  outputs: ["out"],
  outputType: "trained",
  random: true,
  backendDependent: true,
  // Training longer draws the same shuffles and masks for the first epochs (so it resumes); a
  // fine-tune draws what training from scratch draws (so the two compare).
  seedIgnores: { params: ["epochs", "freeze", "reinit", "resetOptimizer"], inputs: ["init"] },
  // Checkpoints: the state after epoch n is this stage with epochs: n (src/plan/checkpoints.ts).
  resumable: {
    param: "epochs",
    blocked: (params) =>
      params.schedule.call === "cosine"
        ? "its cosine schedule spans all `epochs`: every epoch's learning rate depends on the total"
        : undefined,
  },
  describe: (params, inputs) => ({
    kind: "trained",
    ...(inputs.model?.layers ? { layers: inputs.model.layers } : {}),
    optimizer: params.optimizer.call,
  }),
  check: (params, inputs) => [
    ...transferProblems(params, inputs.model, inputs.init),
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
    const start = startFrom(ctx, spec, inputs.init, data, params);
    const resume = resumeFrom(ctx);
    const tf = await ctx.tf();
    const model = await restoreModel(
      tf,
      spec.topology,
      spec.weightSpecs,
      resume?.weights ?? start.weights,
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
        ...(params.freeze ? { frozen: new Set(params.freeze) } : {}),
        ...(resume
          ? { optimizerState: resume.optimizer, resume: resume.state }
          : start.optimizer
            ? { optimizerState: start.optimizer }
            : {}),
      };
      ctx.log(
        `${count(data)} examples${validation ? `, ${count(validation)} for validation` : ""}; ${spec.params} parameters; loss ${loss}; ${ctx.runtime?.backend ?? "?"} backend`,
      );
      // What training gives when it ends after `epochs` (a checkpoint, or the result).
      const artifact = (r: TrainResult, epochs: number): TrainedModel => ({
        type: "trained",
        topology: spec.topology,
        weightSpecs: spec.weightSpecs,
        weights: r.weights,
        history: r.history,
        config: { ...(params as unknown as Record<string, Json>), epochs, loss },
        data: dataDescription(data),
        warnings: r.warnings,
        ...(r.bestEpoch !== undefined ? { bestEpoch: r.bestEpoch } : {}),
        ...(r.baselineLoss !== undefined ? { baselineLoss: r.baselineLoss } : {}),
        optimizer: r.optimizer,
        ...(start.transfer
          ? {
              transfer: {
                ...start.transfer,
                frozen: params.freeze ?? [],
                optimizer: start.optimizer ? "continued" : "reset",
              },
            }
          : {}),
        progress: r.progress,
      });
      let result: TrainResult;
      try {
        result = await trainLoop(tf, model, data, validation, cfg, {
          rng: ctx.rng,
          progress: ctx.progress,
          log: ctx.log,
          signal: ctx.signal,
          ...(ctx.checkpoint
            ? {
                epochEnd: (r: TrainResult) =>
                  ctx.checkpoint!(r.progress.epoch, { out: artifact(r, r.progress.epoch) }),
              }
            : {}),
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
      return { out: artifact(result, params.epochs) };
    } finally {
      model.dispose();
    }
  },
});

/**
 * A checkpoint to continue from (the runner found the record of this stage with fewer epochs): the
 * weights training goes on with, its optimizer's state, and the rest of where it stood.
 */
type TrainResume = NonNullable<TrainConfig["resume"]>;

function resumeFrom(
  ctx: StageContext,
): { weights: Float32Array[]; optimizer: OptimizerState; state: TrainResume } | undefined {
  const r = ctx.resume;
  if (!r) return undefined;
  const ckpt = r.outputs.out as TrainedModel | undefined;
  if (!ckpt?.progress || !ckpt.optimizer) {
    ctx.log(`the checkpoint at epoch ${r.step} keeps no training state; starting over`);
    return undefined;
  }
  const { progress } = ckpt;
  ctx.log(
    `resumed from epoch ${r.step}${progress.stopped ? " (early stopping had ended it there)" : ""}`,
  );
  return {
    weights: progress.weights ?? ckpt.weights,
    optimizer: ckpt.optimizer,
    state: {
      history: ckpt.history,
      warnings: ckpt.warnings,
      progress,
      ...(progress.weights ? { bestWeights: ckpt.weights } : {}),
    },
  };
}

/**
 * The weights training starts from: the model's own initial ones, or with `init` those of another
 * trained model where they fit (and its optimizer state, when it is to continue), after checking that
 * what they mean agrees with this data.
 */
function startFrom(
  ctx: StageContext,
  spec: ModelSpec,
  init: TrainedModel | undefined,
  data: SequenceSet,
  params: { reinit?: string[] | undefined; resetOptimizer: boolean },
): { weights: Float32Array[]; transfer?: TransferResult["transfer"]; optimizer?: OptimizerState } {
  if (!init) return { weights: spec.weights };
  const reinit = new Set(params.reinit ?? []);
  // What the weights mean first: an embedding of another vocabulary is wrong whatever its size.
  checkMeaning(
    { topology: spec.topology, data: dataDescription(data) },
    init,
    sharedLayers(spec, init).filter((l) => !reinit.has(l)),
  );
  const moved = transferWeights(spec, init, reinit);
  const t = moved.transfer;
  ctx.log(
    `init: ${t.taken.length} layer${t.taken.length === 1 ? "" : "s"} from init (${t.taken.join(", ")})${t.grown.map((g) => `; ${g.layer} took ${g.rows} of its ${g.of} rows`).join("")}${t.initialised.length ? `; own initial weights: ${t.initialised.join(", ")}` : ""}; ${params.resetOptimizer ? "a fresh optimizer" : "init's optimizer state continues"}`,
  );
  if (!params.resetOptimizer && !init.optimizer)
    throw new UserError(
      "init's artifact keeps no optimizer state (it was trained by an older rnnp)",
      {
        hint: "resetOptimizer: true, or train init again",
      },
    );
  return {
    weights: moved.weights,
    transfer: t,
    ...(!params.resetOptimizer && init.optimizer ? { optimizer: init.optimizer } : {}),
  };
}

/**
 * What can be checked of `init`, `freeze`, `reinit` and `resetOptimizer` before anything runs: the
 * layers named exist, nothing is left to train, and weights of the same name have the same shapes
 * (an embedding may have more rows) where both are known.
 */
function transferProblems(
  params: {
    freeze?: string[] | undefined;
    reinit?: string[] | undefined;
    resetOptimizer: boolean;
    optimizer: { call: string };
  },
  model: ModelInfo | undefined,
  init: TrainedInfo | undefined,
): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const hasInit = init !== undefined;
  if (params.reinit !== undefined && !hasInit)
    problems.push({
      param: "reinit",
      message: "reinit names layers that do not take init's weights; there is no init",
      hint: "add init: <a train stage>",
    });
  if (!params.resetOptimizer && !hasInit)
    problems.push({
      param: "resetOptimizer",
      message: "resetOptimizer: false continues init's optimizer; there is no init",
      hint: "add init: <a train stage>",
    });
  if (
    !params.resetOptimizer &&
    init?.optimizer !== undefined &&
    init.optimizer !== params.optimizer.call
  )
    problems.push({
      param: "resetOptimizer",
      message: `init was trained with ${init.optimizer}, this stage with ${params.optimizer.call}: an optimizer's state continues only in the same optimizer`,
      hint: "use the same optimizer, or resetOptimizer: true",
    });
  const layers = model?.layers;
  if (!layers) return problems;
  const names = layers.map((l) => l.name);
  for (const param of ["freeze", "reinit"] as const)
    for (const name of params[param] ?? [])
      if (!names.includes(name))
        problems.push({
          param,
          message: `the model has no layer \`${name}\` (its layers: ${names.join(", ")})`,
        });
  const trained = layers.filter((l) => l.weights.length > 0);
  if (params.freeze && trained.length && trained.every((l) => params.freeze!.includes(l.name)))
    problems.push({
      param: "freeze",
      message: "every layer with weights is frozen: nothing would train",
    });
  if (!init?.layers) return problems;
  const theirs = new Map(init.layers.map((l) => [l.name, l]));
  const mismatched: string[] = [];
  for (const layer of layers) {
    const other = theirs.get(layer.name);
    if (!other || params.reinit?.includes(layer.name)) continue;
    layer.weights.forEach((w, i) => {
      const o = other.weights[i];
      if (!o || o.role !== w.role) return;
      const known = (s: (number | undefined)[]) => s.every((d) => d !== undefined);
      if (!known(w.shape) || !known(o.shape) || w.shape.length !== o.shape.length) return;
      const grows = w.role === "embeddings" && w.shape[0]! >= o.shape[0]!;
      if (w.shape.every((d, k) => d === o.shape[k] || (k === 0 && grows))) return;
      mismatched.push(
        `${layer.name}'s ${w.role} is [${w.shape.join(", ")}] in this model and [${o.shape.join(", ")}] in init's ${other.name}`,
      );
    });
  }
  if (mismatched.length)
    problems.push({
      param: "init",
      message: `init's weights do not fit this model: ${mismatched.join("; ")}`,
      hint: `give the layers the same sizes, or keep their own initial weights with reinit: [${[...new Set(mismatched.map((m) => m.split("'")[0]))].map((n) => JSON.stringify(n)).join(", ")}]`,
    });
  if (
    !layers.some((l) => theirs.has(l.name) && l.weights.length && !params.reinit?.includes(l.name))
  )
    problems.push({
      param: "init",
      message: `init shares no layer with this model (init's: ${init.layers.map((l) => l.name).join(", ")}; this model's: ${names.join(", ")})`,
      hint: "weights are matched by layer name: build the model with the same layers in the same places",
    });
  return problems;
}

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
