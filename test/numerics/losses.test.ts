// The cross-entropy of one class per example as one op (src/numerics/losses.ts) against TF.js's ops
// differentiated by TF.js, bit for bit: the loss and its gradient, on the backends training runs on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import seedrandom from "seedrandom";
import type { Batch } from "../../src/numerics/batches.js";
import { lossValue } from "../../src/numerics/losses.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;

const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

/** What lossValue computed with TF.js's ops alone (and TF.js differentiates). */
function reference(tf: TF, y: Tensor, pred: Tensor, units: number): Tensor {
  const p = tf.clipByValue(pred, 1e-7, 1 - 1e-7);
  return tf.mean(
    tf.neg(
      tf.sum(
        tf.mul(tf.oneHot(y as import("../../src/runtime/tfjs.js").Tensor1D, units), tf.log(p)),
        -1,
      ),
    ),
  );
}

/**
 * Probabilities as a softmax gives them (rows summing to about 1), some beyond the clipping bounds
 * (exact 0 and 1, under 1e-7, above 1 - 1e-7) and at them, from the seed.
 */
function probabilities(B: number, units: number, seed: number): Float32Array {
  const random = seedrandom.alea(String(seed));
  const out = new Float32Array(B * units);
  const edges = [0, 1, 1e-9, 1e-7, Math.fround(1e-7), 1 - 1e-7, Math.fround(1 - 1e-7), 1 - 1e-8];
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: units }, () => Math.exp((random() * 2 - 1) * 20));
    const sum = row.reduce((a, v) => a + v, 0);
    row.forEach((v, c) => {
      out[b * units + c] = random() < 0.1 ? edges[Math.floor(random() * edges.length)]! : v / sum;
    });
  }
  return out;
}

// The wasm backend, which training runs on (one backend per process).
describe("cross-entropy of one class per example, one op: TF.js's bytes", async () => {
  const tf = await loadTf(describeRuntime("wasm"));
  it("property: the loss and its gradient, bit for bit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 2, max: 23 }),
        fc.integer(),
        fc.constantFrom(1, 0.5, 3),
        (B, units, seed, seedDy) => {
          const random = seedrandom.alea(`${seed}:labels`);
          const labels = Int32Array.from({ length: B }, () => Math.floor(random() * units));
          const y = tf.tensor1d(labels, "int32");
          const pred = tf.tensor2d(probabilities(B, units, seed), [B, units]);
          const batch: Batch = { x: pred, y, labels, size: B };
          const run = (loss: (p: Tensor) => Tensor) => {
            // A gradient seed other than 1 too: the op scales by it as Mean's gradient does.
            const { value, grad } = tf.valueAndGrad((p: Tensor) => tf.mul(loss(p), seedDy))(pred);
            const out = { value: bits(value), grad: bits(grad) };
            tf.dispose([value, grad]);
            return out;
          };
          try {
            assert.deepEqual(
              run((p) => lossValue(tf, "sparseCategoricalCrossentropy", batch, p)),
              run((p) => reference(tf, y, p, units)),
            );
          } finally {
            tf.dispose([y, pred]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
