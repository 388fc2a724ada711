import { UserError } from "../core/diagnostic.js";
import type { EpochRecord } from "../artifacts/model.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { batchTensors, evalBatches, trainBatches, type Batch } from "./batches.js";
import { LAYERS } from "./layers/index.js";
import { lossValue, metricsOf, type LossName } from "./losses.js";
import {
  learningRate,
  makeOptimizer,
  setLearningRate,
  type OptimizerCall,
  type ScheduleCall,
} from "./optimizers.js";
import type { TF } from "./tf.js";

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
}

export interface TrainHooks {
  /** A seeded generator for one purpose, e.g. the shuffle of epoch 3. */
  rng(purpose: string): () => number;
  progress(done: number, total: number, unit: string): void;
  log(message: string): void;
  signal: AbortSignal;
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
  const variables = model.trainableWeights.map((w) => ({
    variable: w.read() as import("../runtime/tfjs.js").Variable,
    name: w.originalName,
  }));
  const layerOf = new Map(variables.map((v) => [v.variable.name, v.name.split("/")[0]!]));
  const watched = watchedLayers(model);
  const history: EpochRecord[] = [];
  const warnings: string[] = [];
  const warned = new Set<string>();
  let best: { value: number; epoch: number; weights?: Tensor[] } | undefined;
  let waited = 0;
  const monitor = cfg.earlyStopping?.monitor ?? "val_loss";

  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      if (hooks.signal.aborted) throw new UserError("interrupted", { code: "interrupted" });
      const started = performance.now();
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
        const squares = tf.tidy(
          () => tf.stack(names.map((n) => tf.sum(tf.square(grads[n]!)))).dataSync() as Float32Array,
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
          `batches, epoch ${epoch}/${cfg.epochs}, loss ${(lossSum / seen).toFixed(4)}, ${(seen / ((performance.now() - started) / 1000)).toFixed(0)} samples/s`,
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
      };
      if (validation) {
        const v = evaluateLoss(tf, model, validation, cfg);
        record.valLoss = v.loss;
        record.valMetrics = v.metrics;
      }
      history.push(record);
      for (const w of gradientWarnings(record, history[0]!, watched)) {
        if (warned.has(w.key)) continue;
        warned.add(w.key);
        warnings.push(w.text);
        hooks.log(`warning: ${w.text}`);
      }
      const secs = (performance.now() - started) / 1000;
      hooks.log(formatEpoch(record, cfg.epochs, seen / secs));

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
          break;
        }
      }
    }
    if (best?.weights) {
      model.setWeights(best.weights);
      return { history, warnings, bestEpoch: best.epoch };
    }
    return { history, warnings, ...(best ? { bestEpoch: best.epoch } : {}) };
  } finally {
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
 * The layers whose gradients are watched: those a model block declares recurrent. An
 * encoder-decoder's are not watched (they never were, and their warnings would change the bytes of
 * its trained models: that needs a new version of the train kind).
 */
export function watchedLayers(model: LayersModel): ReadonlySet<string> {
  if (model.getClassName() !== "Sequential") return new Set();
  return new Set(
    model.layers.filter((l) => LAYERS.ofClass(l.getClassName())?.recurrent).map((l) => l.name),
  );
}

/**
 * When the monitor calls a layer's mean gradient norm vanishing (below `vanishing`) or exploding
 * (above `exploding`, or `explodingRatio` times its epoch-1 norm); the report draws these lines.
 */
export const GRADIENT_LIMITS = { vanishing: 1e-7, exploding: 1e3, explodingRatio: 100 } as const;

/** The classic recurrent failures, per watched layer: gradients that vanish, or explode. */
export function gradientWarnings(
  r: EpochRecord,
  first: EpochRecord,
  watched: ReadonlySet<string>,
): { key: string; text: string }[] {
  const out: { key: string; text: string }[] = [];
  for (const [layer, norm] of Object.entries(r.layerGradNorms)) {
    if (!watched.has(layer)) continue;
    if (norm < GRADIENT_LIMITS.vanishing)
      out.push({
        key: `vanish:${layer}`,
        text: `vanishing gradients in ${layer} at epoch ${r.epoch} (mean norm ${norm.toExponential(2)}): it has stopped learning; try gru/lstm, a larger learning rate, or layerNormalization`,
      });
    const start = first.layerGradNorms[layer] ?? norm;
    if (
      norm > GRADIENT_LIMITS.exploding ||
      (r.epoch > 1 && start > 0 && norm > GRADIENT_LIMITS.explodingRatio * start)
    ) {
      out.push({
        key: `explode:${layer}`,
        text: `exploding gradients in ${layer} at epoch ${r.epoch} (mean norm ${norm.toExponential(2)}, ${(norm / start).toFixed(0)}x epoch 1): set clipNorm (e.g. 1.0) or lower the learning rate`,
      });
    }
  }
  return out;
}

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
