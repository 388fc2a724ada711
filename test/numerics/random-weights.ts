// Shared by the fused-kernel tests: a model's weights drawn from a seeded stream.
import seedrandom from "seedrandom";
import type { TF } from "../../src/numerics/tf.js";

type LayersModel = import("../../src/runtime/tfjs.js").LayersModel;

/** Sets every weight of `model`, in its order, to values drawn uniformly in ±scale from `seed`. */
export function randomWeights(tf: TF, model: LayersModel, seed: string, scale: number): void {
  const r = seedrandom(seed);
  model.setWeights(
    model.getWeights().map((w) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (r() * 2 - 1) * scale),
        w.shape,
      ),
    ),
  );
}
