// Sums of squares taken natively (src/numerics/squared-norms.ts, native/addon.cc) against TF.js's
// wasm tf.sum(tf.square(x)), bit for bit. Skipped, with the reason, where the add-on is not built.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { squaredNorms } from "../../src/numerics/squared-norms.js";
import type { TF } from "../../src/numerics/tf.js";
import { skip, wasmWithNative } from "./native-addon.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;

/**
 * Values of every magnitude from the seed: squares that underflow to subnormals or zero, that
 * overflow to infinity, exact zeros of both signs. Wide enough that any other order of the additions
 * (or a wider accumulator) rounds differently. No NaN: a NaN's bits are not a result rnnp keeps.
 */
function values(n: number, seed: number, exponents: [number, number]): Float32Array {
  const random = seedrandom.alea(String(seed));
  const [lo, hi] = exponents;
  return Float32Array.from({ length: n }, () => {
    const r = random();
    if (r < 0.03) return r < 0.015 ? 0 : -0;
    return (random() * 2 - 1) * 10 ** (lo + random() * (hi - lo));
  });
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function tfjsNorms(tf: TF, tensors: Tensor[]): Float32Array {
  return Float32Array.from(tensors, (t) => tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]!));
}

describe("squared norms natively: TF.js's wasm sum of squares, bit for bit", { skip }, () => {
  const tfReady = wasmWithNative("sumSquares");

  it("property: random shapes (sizes of every remainder by the vector widths) and magnitudes", async () => {
    const tf = await tfReady;
    const caseArb = fc.record({
      shapes: fc.array(fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 0, maxLength: 3 }), {
        minLength: 1,
        maxLength: 5,
      }),
      seed: fc.integer(),
      exponents: fc.constantFrom<[number, number]>([-3, 1], [-25, -15], [-8, 8], [15, 22]),
    });
    await fc.assert(
      fc.property(caseArb, (c) => {
        const tensors = c.shapes.map((s, i) =>
          tf.tensor(
            values(
              s.reduce((a, b) => a * b, 1),
              c.seed + i,
              c.exponents,
            ),
            s,
          ),
        );
        try {
          assert.deepEqual(bits(squaredNorms(tf, tensors)), bits(tfjsNorms(tf, tensors)));
        } finally {
          tf.dispose(tensors);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("the reference workload's gradients (an LSTM of 128 units on 16 features, a dense of 10)", async () => {
    const tf = await tfReady;
    const shapes = [[16, 512], [128, 512], [512], [128, 10], [10]];
    const tensors = shapes.map((s, i) =>
      tf.tensor(
        values(
          s.reduce((a, b) => a * b, 1),
          i,
          [-6, 0],
        ),
        s,
      ),
    );
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const ours = squaredNorms(tf, tensors);
    assert.equal(backend.numDataIds(), before, "it makes no tensor");
    assert.deepEqual(bits(ours), bits(tfjsNorms(tf, tensors)));
    tf.dispose(tensors);
  });
});
