import type { Target } from "../artifacts/sequences.js";
import type { Batch } from "./batches.js";
import type { TF } from "./tf.js";

type Tensor = import("../runtime/tfjs.js").Tensor;
type Scalar = import("../runtime/tfjs.js").Scalar;
type Tensor1D = import("../runtime/tfjs.js").Tensor1D;

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
    if (name !== "mse" && name !== "mae" && name !== "binaryCrossentropy" && !classWeights) {
      const units = pred.shape[pred.shape.length - 1]!;
      if (pred.rank === 2 && units > 1) return crossEntropy(tf, batch.y as Tensor1D, pred, units);
    }
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
      } else perExample = perExampleCrossEntropy(tf, batch.y as Tensor1D, p, units);
    }
    if (classWeights)
      perExample = tf.mul(perExample, tf.gather(tf.tensor1d(classWeights), batch.y));
    return tf.mean(perExample) as Scalar;
  });
}

/** −log of each example's clipped probability of its class: TF.js's ops, from `p` clipped. */
function perExampleCrossEntropy(tf: TF, y: Tensor1D, p: Tensor, units: number): Tensor {
  return tf.neg(tf.sum(tf.mul(tf.oneHot(y, units), tf.log(p)), -1));
}

/**
 * The mean cross-entropy of one class per example ([B, units] probabilities) as one op on the tape:
 * its value from TF.js's ops as in `lossValue`, its gradient computed here as TF.js's gradients of
 * those ops compute it, each one float32 operation (there is no sum in it: each element's chain is
 * its own). The tape then holds one node instead of nine, and the backward pass runs no TF.js op
 * until the softmax's: about 25 ops a batch fewer (kernel calls, each with its bookkeeping and the
 * copies the tape keeps of their inputs). The same bytes (test/numerics/losses.test.ts).
 */
function crossEntropy(tf: TF, y: Tensor1D, pred: Tensor, units: number): Scalar {
  const f = Math.fround;
  const op = tf.customGrad((...args: unknown[]) => {
    const x = args[0] as Tensor;
    const p = tf.clipByValue(x, EPSILON, 1 - EPSILON);
    const value = tf.mean(perExampleCrossEntropy(tf, y, p, units)) as Scalar;
    const probs = x.dataSync() as Float32Array;
    const labels = y.dataSync();
    return {
      value,
      gradFunc: (dy: Tensor) => {
        const B = x.shape[0]!;
        // Mean: dy × 1 / B; neg; sum: × 1 (float32 scalars: the bounds are rounded to float32 too).
        const g = -f(f(dy.dataSync()[0]! * 1) / B);
        const [lo, hi] = [f(EPSILON), f(1 - EPSILON)];
        const dx = new Float32Array(probs.length);
        for (let b = 0; b < B; b++)
          for (let c = 0; c < units; c++) {
            const i = b * units + c;
            // mul: × the one-hot (a −0 off the label); log: ÷ the clipped p, which is p where the
            // clip's gradient passes (within the bounds), 0 elsewhere.
            const inside = probs[i]! >= lo && probs[i]! <= hi;
            dx[i] = inside ? f(f(g * (labels[b] === c ? 1 : 0)) / probs[i]!) : 0;
          }
        return tf.tensor(dx, x.shape, "float32");
      },
    };
  });
  return (op as (x: Tensor) => Scalar)(pred);
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

/**
 * The training loss of the best constant prediction, the baseline a model must beat: the class (or
 * token) frequencies for cross-entropy (weighted as the loss weighs them), each output's mean for
 * mse, its median for mae. Undefined where the loss and target do not pair this way (e.g. binary
 * cross-entropy over several outputs).
 */
export function baselineLoss(
  data: { target: Target; shape: readonly number[] },
  name: LossName,
  outputUnits: number,
  classWeights?: Float32Array,
): number | undefined {
  const { target } = data;
  const crossEntropy =
    name === "sparseCategoricalCrossentropy" ||
    name === "categoricalCrossentropy" ||
    (name === "binaryCrossentropy" && outputUnits === 1);
  if (target.kind === "class" && crossEntropy) {
    const mass = new Float64Array(target.classes.length);
    for (const y of target.y) mass[y]! += classWeights?.[y] ?? 1;
    return entropy(mass, target.y.length);
  }
  if ((target.kind === "sequence" || target.kind === "tokens") && crossEntropy) {
    // Each example's loss is the mean over its tokens: a token weighs 1 / (its example's tokens).
    const width = target.y.length / Math.max(1, data.shape[0]!);
    const mass = new Float64Array(target.tokens.length);
    let examples = 0;
    for (let i = 0; i * width < target.y.length; i++) {
      const row = target.y.subarray(i * width, (i + 1) * width);
      const n = row.reduce((a, id) => a + (id !== 0 ? 1 : 0), 0);
      if (n === 0) continue;
      for (const id of row) if (id !== 0) mass[id]! += 1 / n;
      examples++;
    }
    return examples ? entropy(mass, examples) : undefined;
  }
  if (target.kind === "value" && (name === "mse" || name === "mae")) {
    const n = target.y.length / target.size;
    if (n === 0) return undefined;
    let total = 0;
    for (let j = 0; j < target.size; j++) {
      const col = Float64Array.from({ length: n }, (_, i) => target.y[i * target.size + j]!);
      if (name === "mse") {
        const mean = col.reduce((a, v) => a + v, 0) / n;
        total += col.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
      } else {
        const median = col.sort()[Math.floor((n - 1) / 2)]!;
        total += col.reduce((a, v) => a + Math.abs(v - median), 0) / n;
      }
    }
    return total / target.size;
  }
  return undefined;
}

/** What the best constant prediction of `baselineLoss` predicts, in words. */
export function baselinePrediction(target: Target, name: LossName): string {
  if (target.kind === "value") return name === "mae" ? "each value's median" : "each value's mean";
  return target.kind === "class" ? "the class frequencies" : "the token frequencies";
}

/**
 * Cross-entropy of the best constant prediction for weighted counts `mass` over `examples`: with
 * q = mass / Σ mass, Σ_c mass_c (−log q_c) / examples.
 */
function entropy(mass: Float64Array, examples: number): number {
  const total = mass.reduce((a, m) => a + m, 0);
  let sum = 0;
  for (const m of mass) if (m > 0) sum -= m * Math.log(m / total);
  return sum / examples;
}
