import type { Target } from "../artifacts/sequences.js";
import type { Batch } from "./batches.js";
import type { TF } from "./tf.js";

type Tensor = import("../runtime/tfjs.js").Tensor;
type Scalar = import("../runtime/tfjs.js").Scalar;

export const LOSSES = [
  "auto",
  "sparseCategoricalCrossentropy",
  "categoricalCrossentropy",
  "binaryCrossentropy",
  "mse",
  "mae",
] as const;
export type LossName = Exclude<(typeof LOSSES)[number], "auto">;

/** Keras's clipping of probabilities before the log. */
const EPSILON = 1e-7;

/** `auto`: cross-entropy for classes (binary for a single sigmoid unit), mean squared error for values. */
export function resolveLoss(
  name: (typeof LOSSES)[number],
  target: Target["kind"],
  outputUnits: number,
): LossName {
  if (name !== "auto") return name;
  if (target === "class")
    return outputUnits === 1 ? "binaryCrossentropy" : "sparseCategoricalCrossentropy";
  if (target === "sequence" || target === "tokens") return "sparseCategoricalCrossentropy";
  return "mse";
}

/** The batch's mean loss (weighted by class when weights are given), from the model's probabilities or values. */
export function lossValue(
  tf: TF,
  name: LossName,
  batch: Batch,
  pred: Tensor,
  classWeights?: Float32Array,
): Scalar {
  return tf.tidy(() => {
    let perExample: Tensor;
    if (name === "mse" || name === "mae") {
      const diff = tf.sub(batch.y, pred);
      perExample = tf.mean(name === "mse" ? tf.square(diff) : tf.abs(diff), -1);
    } else {
      const p = tf.clipByValue(pred, EPSILON, 1 - EPSILON);
      const units = pred.shape[pred.shape.length - 1]!;
      if (name === "binaryCrossentropy" || units === 1) {
        const y = tf.reshape(tf.cast(batch.y, "float32"), p.shape);
        perExample = tf.neg(
          tf.mean(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))), -1),
        );
      } else if (pred.rank === 3) {
        // One token per step: cross-entropy at every step whose target is not padding (id 0).
        const perStep = tf.neg(
          tf.sum(
            tf.mul(tf.oneHot(batch.y as import("../runtime/tfjs.js").Tensor2D, units), tf.log(p)),
            -1,
          ),
        );
        const mask = tf.cast(tf.notEqual(batch.y, 0), "float32");
        perExample = tf.div(tf.sum(tf.mul(perStep, mask), -1), tf.maximum(tf.sum(mask, -1), 1));
      } else {
        perExample = tf.neg(
          tf.sum(
            tf.mul(tf.oneHot(batch.y as import("../runtime/tfjs.js").Tensor1D, units), tf.log(p)),
            -1,
          ),
        );
      }
    }
    if (classWeights)
      perExample = tf.mul(perExample, tf.gather(tf.tensor1d(classWeights), batch.y));
    return tf.mean(perExample) as Scalar;
  });
}

/** Metrics of a pass over the data, computed in JavaScript from the predictions: accuracy, or MAE. */
export function metricsOf(
  target: Target,
  predictions: { pred: Float32Array; batch: Batch }[],
): Record<string, number> {
  if (target.kind === "sequence" || target.kind === "tokens") {
    let correct = 0;
    let n = 0;
    for (const { pred, batch } of predictions) {
      const units = pred.length / batch.labels.length;
      batch.labels.forEach((truth, i) => {
        if (truth === 0) return;
        n++;
        if (argmax(pred, i * units, units) === truth) correct++;
      });
    }
    return { tokenAccuracy: correct / Math.max(1, n) };
  }
  if (target.kind === "class") {
    let correct = 0;
    let n = 0;
    for (const { pred, batch } of predictions) {
      const units = pred.length / batch.size;
      for (let i = 0; i < batch.size; i++) {
        const guess = units === 1 ? (pred[i]! > 0.5 ? 1 : 0) : argmax(pred, i * units, units);
        if (guess === batch.labels[i]) correct++;
        n++;
      }
    }
    return { accuracy: correct / Math.max(1, n) };
  }
  let sum = 0;
  let n = 0;
  for (const { pred, batch } of predictions) {
    for (let i = 0; i < pred.length; i++) sum += Math.abs(pred[i]! - batch.labels[i]!);
    n += pred.length;
  }
  return { mae: sum / Math.max(1, n) };
}

export function argmax(a: ArrayLike<number>, from: number, length: number): number {
  let best = 0;
  for (let j = 1; j < length; j++) if (a[from + j]! > a[from + best]!) best = j;
  return best;
}
