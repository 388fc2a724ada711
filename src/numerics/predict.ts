import type { SequenceSet } from "../artifacts/sequences.js";
import { batchTensors, evalBatches } from "./batches.js";
import type { TF } from "./tf.js";

type LayersModel = import("../runtime/tfjs.js").LayersModel;
type Tensor = import("../runtime/tfjs.js").Tensor;

/** The model's outputs for every example, in example order: [N x units], units per example (steps x classes for sequences). */
export function predictAll(
  tf: TF,
  model: LayersModel,
  data: SequenceSet,
  batchSize = 64,
): { values: Float32Array; units: number } {
  const n = data.shape[0]!;
  const withTarget: SequenceSet =
    data.target.kind === "none"
      ? { ...data, target: { kind: "class", y: new Int32Array(n), classes: [] } }
      : data;
  let out: Float32Array | undefined;
  let units = 0;
  for (const indices of evalBatches(withTarget, batchSize)) {
    const batch = batchTensors(tf, withTarget, indices);
    const pred = tf.tidy(
      () => (model.apply(batch.x, { training: false }) as Tensor).dataSync() as Float32Array,
    );
    tf.dispose([batch.x, batch.y]);
    units = pred.length / indices.length;
    out ??= new Float32Array(n * units);
    indices.forEach((ex, r) => out!.set(pred.subarray(r * units, (r + 1) * units), ex * units));
  }
  return { values: out ?? new Float32Array(0), units };
}
