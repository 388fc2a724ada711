import { UserError } from "../core/diagnostic.js";
import type { Json } from "../core/canonical.js";
import type { WeightSpec } from "../artifacts/model.js";
import { describeFusion, fuse } from "./fused/fuse.js";
import type { Runtime } from "../runtime/descriptor.js";
import type { TF } from "./tf.js";

type LayersModel = import("../runtime/tfjs.js").LayersModel;

/** Weight names as TF.js saves them (its `originalName`: no per-process suffixes), shapes and dtypes. */
export function weightSpecsOf(model: LayersModel): WeightSpec[] {
  return model.weights.map((w) => {
    if (w.dtype !== "float32")
      throw new UserError(`weight ${w.originalName} is ${w.dtype}; rnnp stores float32 weights`);
    return { name: w.originalName, shape: [...w.shape] as number[], dtype: "float32" };
  });
}

export function readWeights(model: LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

export function writeWeights(
  tf: TF,
  model: LayersModel,
  specs: readonly WeightSpec[],
  weights: readonly Float32Array[],
): void {
  const byName = new Map(specs.map((s, i) => [s.name, weights[i]!]));
  const tensors = model.weights.map((w) => {
    const values = byName.get(w.originalName);
    if (!values) throw new UserError(`the stored weights have no ${w.originalName}`);
    return tf.tensor(values, w.shape as number[], "float32");
  });
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}

/**
 * A model rebuilt from a stored topology and weights, ready to compute on a runtime: with fused
 * kernels, its recurrent layers run on them, and `log` hears which did and which could not.
 */
export async function restoreModel(
  tf: TF,
  topology: Json,
  specs: readonly WeightSpec[],
  weights: readonly Float32Array[],
  runtime: Runtime,
  log?: (message: string) => void,
): Promise<LayersModel> {
  const model = (await tf.models.modelFromJSON({
    modelTopology: topology,
  } as never)) as LayersModel;
  writeWeights(tf, model, specs, weights);
  if (runtime.kernels) {
    const said = describeFusion(fuse(tf, model));
    if (said) log?.(said);
  }
  return model;
}

/** TF.js's weight data layout: the weights' bytes one after another, in spec order. */
export function concatWeights(weights: readonly Float32Array[]): Uint8Array {
  const total = weights.reduce((a, w) => a + w.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const w of weights) {
    out.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), at);
    at += w.byteLength;
  }
  return out;
}
