import { trainingSuite } from "./training.js";

trainingSuite("wasm");

import assert from "node:assert/strict";
import { it } from "node:test";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf } from "../../src/numerics/tf.js";

it("wasm: rnnp's UnsortedSegmentSum (the Embedding gradient) sums rows by segment, dropping out-of-range ids", async () => {
  const tf = await loadTf(describeRuntime("wasm", "tfjs"));
  assert.equal(tf.getBackend(), "wasm");
  const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 1, 3]);
  const out = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 5], "int32"), 3);
  assert.deepEqual(out.shape, [3, 1, 3]);
  assert.deepEqual(Array.from(out.dataSync()), [4, 5, 6, 0, 0, 0, 8, 10, 12]);
  const ints = tf.unsortedSegmentSum(
    tf.tensor1d([1, 2, 3], "int32"),
    tf.tensor1d([1, 1, 0], "int32"),
    2,
  );
  assert.equal(ints.dtype, "int32");
  assert.deepEqual(Array.from(ints.dataSync()), [3, 3]);
});

it("wasm with TF.js's cells: TF.js's own matrix products (rnnp's patch is part of its kernels)", async () => {
  const tf = await loadTf(describeRuntime("wasm", "tfjs"));
  assert.equal(
    (tf.getKernel("BatchMatMul", "wasm")!.kernelFunc as { patched?: boolean }).patched,
    undefined,
  );
  await assert.rejects(
    async () => loadTf(describeRuntime("wasm")),
    /already running as wasm(-simd)? tfjs .*; cannot switch to wasm(-simd)? .*rnnp-fused/,
  );
});
