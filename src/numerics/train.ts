import { sinceStart } from "../core/clock.js";
import { UserError } from "../core/diagnostic.js";
import type { EpochRecord, OptimizerState, TrainProgress } from "../artifacts/model.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { batchTensors, evalBatches, trainBatches, type Batch } from "./batches.js";
import { FlowRecorder } from "./flow.js";
import { epochWarnings, finalWarnings, type RunFacts, type Warning } from "./health.js";
import { baselineLoss, baselinePrediction, lossValue, metricsOf, type LossName } from "./losses.js";
import {
  learningRate,
  makeOptimizer,
  setLearningRate,
  type OptimizerCall,
  type ScheduleCall,
} from "./optimizers.js";
import { restoreOptimizer, saveOptimizer } from "./optimizer-state.js";
import { probeCells } from "./probe.js";
import { squaredNorms } from "./squared-norms.js";
import type { TF } from "./tf.js";
import { readWeights } from "./weights.js";

type LayersModel = import("../runtime/tfjs.js").LayersModel;
type Tensor = import("../runtime/tfjs.js").Tensor;

/**
 * The training loop: the one seam between rnnp and the numeric library, so that faster kernels can
 * replace what is inside without touching stages. Written out (not `model.fit`) because rnnp needs
 * what fit does not give: seeded shuffles, clipping by global norm, learning-rate schedules set per
 * step, per-layer gradient norms, a NaN guard naming the batch, and early stopping that restores.
 */
export interface TrainConfig {
  loss: LossName;
  optimizer: OptimizerCall;
  schedule: ScheduleCall;
  warmup: number;
  epochs: number;
  batchSize: number;
  clipNorm?: number;
  clipValue?: number;
  shuffle: boolean;
  /** Class index -> weight of its examples in the loss. */
  classWeights?: Float32Array;
  earlyStopping?: { monitor: string; patience: number; minDelta: number; restoreBest: boolean };
  /** Layers whose weights do not train (fine-tuning). */
  frozen?: ReadonlySet<string>;
  /** The optimizer's state to continue from (fine-tuning with resetOptimizer: false). */
  optimizerState?: OptimizerState;
  /**
   * A training to continue (a checkpoint): the model holds its current weights, `optimizerState`
   * its optimizer's; this is the rest, and the best epoch's weights when restoreBest keeps them.
   */
  resume?: {
    history: EpochRecord[];
    warnings: string[];
    progress: TrainProgress;
    bestWeights?: Float32Array[];
  };
  /** Record the gradient flow through time of the recurrent layers (flow.ts). */
  gradientFlow: boolean;
}

export interface TrainHooks {
  /** A seeded generator for one purpose, e.g. the shuffle of epoch 3. */
  rng(purpose: string): () => number;
  progress(done: number, total: number, unit: string): void;
  log(message: string): void;
  signal: AbortSignal;
  /** After each epoch but the last: the result training would give had it been asked for this many. */
  epochEnd?(result: TrainResult): void;
}

/** Raised when the loss stops being a number: the stage fails and nothing is cached. */
export class NonFiniteLoss extends UserError {
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly batches: number,
    readonly value: number,
  ) {
    super(`the loss became ${value} at epoch ${epoch}, batch ${batch} of ${batches}`, {
      hint: "lower the learning rate, set clipNorm (e.g. 1.0), or check the data for extreme values",
    });
  }
}

export interface TrainResult {
  history: EpochRecord[];
  warnings: string[];
  bestEpoch?: number;
  /** The optimizer's state after the last epoch. */
  optimizer: OptimizerState;
  /** The weights (the best epoch's with restoreBest), in the model's order. */
  weights: Float32Array[];
  progress: TrainProgress;
  /** The training loss of the best constant prediction, where one applies. */
  baselineLoss?: number;
}

export async function train(
  tf: TF,
  model: LayersModel,
  data: SequenceSet,
  validation: SequenceSet | undefined,
  cfg: TrainConfig,
  hooks: TrainHooks,
): Promise<TrainResult> {
  const optimizer = makeOptimizer(tf, cfg.optimizer);
  const baseLr = cfg.optimizer.args.lr;
  const variables = model.trainableWeights
    .filter((w) => !cfg.frozen?.has(w.originalName.split("/")[0]!))
    .map((w) => ({
      variable: w.read() as import("../runtime/tfjs.js").Variable,
      name: w.originalName,
    }));
  if (cfg.optimizerState)
    await restoreOptimizer(tf, optimizer, cfg.optimizer.call, cfg.optimizerState, variables);
  const layerOf = new Map(variables.map((v) => [v.variable.name, v.name.split("/")[0]!]));
  const r = cfg.resume;
  const history: EpochRecord[] = [...(r?.history ?? [])];
  const units = (model.outputs[0]!.shape.at(-1) as number | null) ?? 1;
  const baseline = baselineLoss(data, cfg.loss, units, cfg.classWeights);
  const facts: RunFacts = {
    lr: baseLr,
    ...(baseline !== undefined
      ? { baselineLoss: baseline, baselineWhat: baselinePrediction(data.target, cfg.loss) }
      : {}),
    ...(cfg.clipNorm !== undefined ? { clipNorm: cfg.clipNorm } : {}),
    ...(cfg.earlyStopping ? { earlyStopping: cfg.earlyStopping } : {}),
  };
  // The warnings given while training (each once); those about the whole run are added by result().
  const warnings: string[] = [...(r?.progress.epochWarnings ?? r?.warnings ?? [])];
  const warned = new Set<string>(r?.progress.warned ?? []);
  const warn = (found: Warning[]) => {
    for (const w of found) {
      if (warned.has(w.key)) continue;
      warned.add(w.key);
      warnings.push(w.text);
      hooks.log(`warning: ${w.text}`);
    }
  };
  let best: { value: number; epoch: number; weights?: Tensor[] } | undefined = r?.progress.best && {
    ...r.progress.best,
    ...(r.bestWeights
      ? {
          weights: r.bestWeights.map((w, i) =>
            tf.tensor(w, model.weights[i]!.shape as number[], "float32"),
          ),
        }
      : {}),
  };
  let waited = r?.progress.waited ?? 0;
  let stopped = r?.progress.stopped ?? false;
  const monitor = cfg.earlyStopping?.monitor ?? "val_loss";
  if (cfg.gradientFlow) probeCells(tf, model);
  const flow = cfg.gradientFlow ? new FlowRecorder(model) : undefined;
  /**
   * What training gives, were it to end after `epoch`: the same code for checkpoints and the end, so
   * a checkpoint is byte for byte the result of training that many epochs. The warnings about the
   * whole run are judged here, and kept apart from the epochs' (progress.epochWarnings), so a run
   * resumed from a checkpoint judges its own whole run again.
   */
  const result = async (epoch: number): Promise<TrainResult> => {
    const current = readWeights(model);
    const weights = best?.weights
      ? best.weights.map((t) => Float32Array.from(t.dataSync()))
      : current;
    const restored = best?.weights ? best.epoch : undefined;
    const finals = finalWarnings(history, {
      ...facts,
      ...(restored ? { bestEpoch: restored } : {}),
    }).filter((w) => !warned.has(w.key));
    return {
      history: [...history],
      warnings: [...warnings, ...finals.map((w) => w.text)],
      ...(best ? { bestEpoch: best.epoch } : {}),
      ...(baseline !== undefined ? { baselineLoss: baseline } : {}),
      optimizer: await saveOptimizer(optimizer, cfg.optimizer.call, variables),
      weights,
      progress: {
        epoch,
        stopped,
        ...(best ? { best: { value: best.value, epoch: best.epoch } } : {}),
        waited,
        warned: [...warned],
        epochWarnings: [...warnings],
        ...(best?.weights ? { weights: current } : {}),
      },
    };
  };

  try {
    let epoch = r?.progress.epoch ?? 0;
    while (!stopped && epoch < cfg.epochs) {
      epoch++;
      if (hooks.signal.aborted) throw new UserError("interrupted", { code: "interrupted" });
      // Dropout masks (TF.js draws them from Math.random) from a stream of this epoch's own: an
      // epoch's draws do not depend on how many came before, so training resumes at any epoch.
      Math.random = hooks.rng(`dropout:${epoch}`);
      const started = sinceStart();
      const batches = trainBatches(
        data,
        cfg.batchSize,
        cfg.shuffle ? hooks.rng(`shuffle:${epoch}`) : undefined,
      );
      let lossSum = 0;
      let seen = 0;
      let normSum = 0;
      const layerNormSums = new Map<string, number>();
      const predictions: { pred: Float32Array; batch: Batch }[] = [];
      let lr = baseLr;
      for (const [b, indices] of batches.entries()) {
        lr = learningRate(
          cfg.schedule,
          baseLr,
          epoch - 1 + b / batches.length,
          cfg.epochs,
          cfg.warmup,
          1 / batches.length,
        );
        setLearningRate(optimizer, lr);
        const batch = batchTensors(tf, data, indices);
        let pred: Tensor | undefined;
        const { value, grads } = optimizer.computeGradients(
          () => {
            const out = model.apply(batch.x, { training: true }) as Tensor;
            pred = tf.keep(out);
            return lossValue(tf, cfg.loss, batch, out, cfg.classWeights);
          },
          variables.map((v) => v.variable),
        );
        const loss = value.dataSync()[0]!;
        if (!Number.isFinite(loss)) {
          tf.dispose([value, pred!, batch.x, batch.y]);
          tf.dispose(Object.values(grads));
          throw new NonFiniteLoss(epoch, b + 1, batches.length, loss);
        }
        // Global and per-layer gradient norms (before clipping), then clipping, then the update.
        const names = Object.keys(grads);
        const squares = squaredNorms(
          tf,
          names.map((n) => grads[n]!),
        );
        let total = 0;
        const perLayer = new Map<string, number>();
        names.forEach((n, i) => {
          total += squares[i]!;
          const layer = layerOf.get(n) ?? n;
          perLayer.set(layer, (perLayer.get(layer) ?? 0) + squares[i]!);
        });
        const norm = Math.sqrt(total);
        normSum += norm;
        for (const [layer, sq] of perLayer)
          layerNormSums.set(layer, (layerNormSums.get(layer) ?? 0) + Math.sqrt(sq));
        const clipped = tf.tidy(() => {
          const scale = cfg.clipNorm !== undefined && norm > cfg.clipNorm ? cfg.clipNorm / norm : 1;
          return Object.fromEntries(
            names.map((n) => {
              let g = grads[n]!;
              if (scale !== 1) g = tf.mul(g, scale);
              if (cfg.clipValue !== undefined) g = tf.clipByValue(g, -cfg.clipValue, cfg.clipValue);
              return [n, g];
            }),
          );
        });
        optimizer.applyGradients(clipped);
        predictions.push({ pred: pred!.dataSync() as Float32Array, batch });
        lossSum += loss * indices.length;
        seen += indices.length;
        tf.dispose([
          value,
          pred!,
          batch.x,
          batch.y,
          ...Object.values(grads),
          ...Object.values(clipped),
        ]);
        // Let timers run between batches: lease renewals, Ctrl-C, the progress bar.
        await new Promise<void>((resolve) => setImmediate(resolve));
        hooks.progress(
          b + 1,
          batches.length,
          `batches, epoch ${epoch}/${cfg.epochs}, loss ${(lossSum / seen).toFixed(4)}, ${(seen / ((sinceStart() - started) / 1000)).toFixed(0)} samples/s`,
        );
      }

      const record: EpochRecord = {
        epoch,
        lr,
        loss: lossSum / seen,
        metrics: metricsOf(data.target, predictions),
        gradNorm: normSum / batches.length,
        layerGradNorms: Object.fromEntries(
          [...layerNormSums].map(([k, v]) => [k, v / batches.length]),
        ),
        ...(flow ? { flow: flow.epoch() } : {}),
      };
      if (validation) {
        const v = evaluateLoss(tf, model, validation, cfg);
        record.valLoss = v.loss;
        record.valMetrics = v.metrics;
      }
      history.push(record);
      const secs = (sinceStart() - started) / 1000;
      hooks.log(formatEpoch(record, cfg.epochs, seen / secs));
      warn(epochWarnings(history, facts));

      if (cfg.earlyStopping) {
        const value = monitored(record, monitor);
        const better =
          monitor.endsWith("loss") || monitor.endsWith("mae")
            ? (a: number, b: number) => a < b - cfg.earlyStopping!.minDelta
            : (a: number, b: number) => a > b + cfg.earlyStopping!.minDelta;
        if (!best || better(value, best.value)) {
          best?.weights?.forEach((t) => t.dispose());
          best = {
            value,
            epoch,
            ...(cfg.earlyStopping.restoreBest
              ? { weights: model.getWeights().map((w) => w.clone()) }
              : {}),
          };
          waited = 0;
        } else if (++waited >= cfg.earlyStopping.patience) {
          hooks.log(
            `early stop after epoch ${epoch}: ${monitor} has not improved for ${waited} epochs (best ${best.value.toPrecision(4)} at epoch ${best.epoch})`,
          );
          stopped = true;
        }
      }
      if (!stopped && epoch < cfg.epochs && hooks.epochEnd) hooks.epochEnd(await result(epoch));
    }
    const out = await result(epoch);
    for (const text of out.warnings.slice(warnings.length)) hooks.log(`warning: ${text}`);
    if (best?.weights) model.setWeights(best.weights);
    return out;
  } finally {
    flow?.close();
    best?.weights?.forEach((t) => t.dispose());
    optimizer.dispose();
  }
}

/** Loss and metrics of the model on a whole set, in evaluation mode (no dropout), batch by batch. */
export function evaluateLoss(
  tf: TF,
  model: LayersModel,
  data: SequenceSet,
  cfg: Pick<TrainConfig, "loss" | "batchSize">,
): { loss: number; metrics: Record<string, number> } {
  let sum = 0;
  let n = 0;
  const predictions: { pred: Float32Array; batch: Batch }[] = [];
  for (const indices of evalBatches(data, cfg.batchSize)) {
    const batch = batchTensors(tf, data, indices);
    const [loss, pred] = tf.tidy(() => {
      const out = model.apply(batch.x, { training: false }) as Tensor;
      return [
        lossValue(tf, cfg.loss, batch, out).dataSync()[0]!,
        out.dataSync() as Float32Array,
      ] as const;
    });
    sum += loss * indices.length;
    n += indices.length;
    predictions.push({ pred, batch });
    tf.dispose([batch.x, batch.y]);
  }
  return { loss: sum / Math.max(1, n), metrics: metricsOf(data.target, predictions) };
}

function monitored(r: EpochRecord, monitor: string): number {
  if (monitor === "loss") return r.loss;
  if (monitor === "val_loss") return r.valLoss ?? r.loss;
  const name = monitor.replace(/^val_/, "");
  const value = monitor.startsWith("val_") ? (r.valMetrics ?? r.metrics)[name] : r.metrics[name];
  if (value === undefined)
    throw new UserError(
      `cannot monitor ${monitor}: the history has ${["loss", ...Object.keys(r.metrics)].join(", ")}`,
    );
  return value;
}

/**
 * Reference lines for the HTML report's per-layer gradient-norm chart (src/report): the old fixed
 * limits of a layer's mean weight-gradient norm. The training warnings no longer use them: they read
 * the gradient flow through time (health.ts).
 */
export const GRADIENT_LIMITS = { vanishing: 1e-7, exploding: 1e3, explodingRatio: 100 } as const;

function formatEpoch(r: EpochRecord, epochs: number, samplesPerSecond: number): string {
  const f = (v: number) =>
    Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
  const parts = [
    `epoch ${r.epoch}/${epochs}`,
    `loss ${f(r.loss)}`,
    ...Object.entries(r.metrics).map(([k, v]) => `${k} ${f(v)}`),
  ];
  if (r.valLoss !== undefined)
    parts.push(
      `val_loss ${f(r.valLoss)}`,
      ...Object.entries(r.valMetrics ?? {}).map(([k, v]) => `val_${k} ${f(v)}`),
    );
  parts.push(
    `lr ${r.lr.toExponential(2)}`,
    `|grad| ${f(r.gradNorm)}`,
    `${samplesPerSecond.toFixed(0)} samples/s`,
  );
  return parts.join("  ");
}
