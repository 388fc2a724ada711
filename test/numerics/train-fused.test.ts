import assert from "node:assert/strict";
import { it } from "node:test";
import seedrandom from "seedrandom";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { loadTf } from "../../src/numerics/tf.js";
import { trainingSuite } from "./training.js";

trainingSuite("wasm", "fused");

it("wasm with rnnp's kernels: products with a transposed operand go through a transpose, and stay exact", async () => {
  const tf = await loadTf(describeRuntime("wasm", "fused"));
  assert.equal(
    (tf.getKernel("BatchMatMul", "wasm")!.kernelFunc as { patched?: boolean }).patched,
    true,
  );
  const random = seedrandom("matmul");
  const values = (n: number) => Array.from({ length: n }, () => random() * 2 - 1);
  // Batched [2, M, K] x [2, K, N] and plain 2-D products, each operand stored either way round.
  for (const [batch, M, K, N] of [
    [2, 5, 7, 3],
    [1, 33, 17, 9],
  ] as const) {
    const a = values(batch * M * K);
    const b = values(batch * K * N);
    const at = (i: number, m: number, k: number) => a[(i * M + m) * K + k]!;
    const bt = (i: number, k: number, n: number) => b[(i * K + k) * N + n]!;
    const expected = Array.from({ length: batch * M * N }, (_, o) => {
      const [i, m, n] = [Math.floor(o / (M * N)), Math.floor(o / N) % M, o % N];
      let sum = 0;
      for (let k = 0; k < K; k++) sum += at(i, m, k) * bt(i, k, n);
      return sum;
    });
    const A = tf.tensor3d(a, [batch, M, K]);
    const B = tf.tensor3d(b, [batch, K, N]);
    const swap = (t: import("../../src/runtime/tfjs.js").Tensor3D) => tf.transpose(t, [0, 2, 1]);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const [x, y] = [ta ? swap(A) : A, tb ? swap(B) : B];
      const backend = tf.engine().backend as unknown as { numDataIds(): number };
      const before = backend.numDataIds();
      const out = tf.matMul(x, y, ta, tb);
      const got = out.dataSync();
      expected.forEach((e, j) =>
        assert.ok(Math.abs(got[j]! - e) < 1e-5, `${ta} ${tb} [${j}]: ${got[j]} vs ${e}`),
      );
      tf.dispose(out);
      assert.equal(backend.numDataIds(), before, "the transposed copies are freed");
    }
  }
});
