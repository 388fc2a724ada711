import { UserError } from "../core/diagnostic.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import { shuffled } from "../data/shuffle.js";
import type { TF } from "./tf.js";

type Tensor = import("../runtime/tfjs.js").Tensor;

/** One batch: tensors for the model, and the labels kept in JavaScript for metrics. */
export interface Batch {
  /** The model's input; for an encoder-decoder, [input ids, <bos> + target shifted right]. */
  x: Tensor | Tensor[];
  y: Tensor;
  labels: Int32Array | Float32Array;
  size: number;
}

/**
 * The batches of an epoch, as example indices. From `bucket`: its batches, in a seeded order. Else:
 * a seeded permutation cut into batches (or the data's order when shuffling is off).
 */
export function trainBatches(
  data: SequenceSet,
  batchSize: number,
  random?: () => number,
): Int32Array[] {
  if (data.batches) {
    if (!random) return data.batches;
    return Array.from(shuffled(data.batches.length, random), (i) => data.batches![i]!);
  }
  const n = data.shape[0]!;
  const order = random ? shuffled(n, random) : Int32Array.from({ length: n }, (_, i) => i);
  const out: Int32Array[] = [];
  for (let i = 0; i < n; i += batchSize) out.push(order.subarray(i, Math.min(n, i + batchSize)));
  return out;
}

/** Batches for evaluation: the data's order (bucketed batches when there are some). */
export function evalBatches(data: SequenceSet, batchSize: number): Int32Array[] {
  return trainBatches(data, batchSize);
}

/**
 * Gathers the examples of one batch into tensors. Bucketed data is cut to the batch's longest
 * sequence (on the padded side), which is what bucketing is for.
 */
export function batchTensors(tf: TF, data: SequenceSet, indices: Int32Array): Batch {
  const T = data.shape[1]!;
  const F = data.input === "features" ? data.shape[2]! : 1;
  let L = T;
  if (data.batches) {
    L = 1;
    for (const i of indices) L = Math.max(L, Math.min(T, data.lengths[i]!));
  }
  const from = data.padding === "pre" ? T - L : 0;
  const b = indices.length;
  const x = data.input === "tokens" ? new Int32Array(b * L) : new Float32Array(b * L * F);
  indices.forEach((ex, r) => {
    const start = (ex * T + from) * F;
    x.set(data.x.subarray(start, start + L * F), r * L * F);
  });
  const t = data.target;
  let labels: Int32Array | Float32Array;
  let y: Tensor;
  if (t.kind === "class") {
    labels = Int32Array.from(indices, (i) => t.y[i]!);
    y = tf.tensor1d(labels, "int32");
  } else if (t.kind === "tokens") {
    labels = new Int32Array(b * t.length);
    const decIn = new Int32Array(b * t.length);
    indices.forEach((ex, r) => {
      labels.set(t.y.subarray(ex * t.length, (ex + 1) * t.length), r * t.length);
      decIn[r * t.length] = t.bos;
      decIn.set(t.y.subarray(ex * t.length, (ex + 1) * t.length - 1), r * t.length + 1);
    });
    y = tf.tensor2d(labels, [b, t.length], "int32");
    const enc = tf.tensor2d(x as Int32Array, [b, L], "int32");
    return { x: [enc, tf.tensor2d(decIn, [b, t.length], "int32")], y, labels, size: b };
  } else if (t.kind === "sequence") {
    labels = new Int32Array(b * L);
    indices.forEach((ex, r) => labels.set(t.y.subarray(ex * T + from, ex * T + from + L), r * L));
    y = tf.tensor2d(labels, [b, L], "int32");
  } else if (t.kind === "value") {
    labels = new Float32Array(b * t.size);
    indices.forEach((ex, r) =>
      labels.set(t.y.subarray(ex * t.size, (ex + 1) * t.size), r * t.size),
    );
    y = tf.tensor2d(labels, [b, t.size], "float32");
  } else {
    throw new UserError(
      "these sequences have no target to train on (encode them with a label column)",
    );
  }
  const xt =
    data.input === "tokens"
      ? tf.tensor2d(x, [b, L], "int32")
      : tf.tensor3d(x, [b, L, F], "float32");
  return { x: xt, y, labels, size: b };
}
