// The fused recurrent op (src/numerics/fused/op.ts) with and without its final states in its value:
// the same outputs and gradients, bit for bit, when the states go unused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { CELLS, type CellKind } from "../../src/numerics/fused/cells.js";
import { kernels } from "../../src/numerics/fused/kernels.js";
import { recurrent } from "../../src/numerics/fused/op.js";
import { loadTf } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;

const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

describe("the fused op's value without the final states", async () => {
  const tf = await loadTf(describeRuntime("wasm"));
  const k = kernels();
  // 37 rows: three chunks of the kernels, the last one short.
  const [B, T, F, H] = [37, 6, 5, 9];
  for (const kind of ["lstm", "gru", "simpleRNN"] as CellKind[])
    for (const sequences of [true, false])
      it(`${kind}, ${sequences ? "every step's output" : "the last output"}: the same bytes, no slices`, () => {
        const random = seedrandom(`${kind}:${sequences}`);
        const G = CELLS[kind].gates * H;
        const arr = (shape: number[]) =>
          tf.tensor(
            Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1),
            shape,
          );
        const [x, w, u, b] = [arr([B, T, F]), arr([F, G]), arr([H, G]), arr([G])];
        const init = CELLS[kind].states.map(() => arr([B, H]));
        const weigh = arr(sequences ? [B, T, H] : [B, H]);
        const mask = Float32Array.from({ length: B * T }, (_, i) => (i % 5 === 2 ? 0 : 1));
        const run = (withStates: boolean) => {
          let kernelsRun = 0;
          const count = tf.engine().runKernel.bind(tf.engine());
          tf.engine().runKernel = ((...a: Parameters<typeof count>) => {
            kernelsRun++;
            return count(...a);
          }) as typeof count;
          try {
            const { value, grads } = tf.valueAndGrads((...t: Tensor[]) => {
              const [xs, ws, us, bs, ...states] = t;
              const { output } = recurrent(
                tf,
                k,
                kind,
                {
                  x: xs!,
                  kernel: ws!,
                  recurrentKernel: us!,
                  bias: bs!,
                  init: states,
                  mask,
                  reverse: false,
                  sequences,
                  withStates,
                },
                true,
              );
              // Only the output reaches the loss: the states' gradients are zeros.
              return tf.sum(tf.mul(output, weigh));
            })([x, w, u, b, ...init]);
            return { value: bits(value), grads: grads.map(bits), kernelsRun };
          } finally {
            tf.engine().runKernel = count;
          }
        };
        const packed = run(true);
        const alone = run(false);
        assert.deepEqual(
          { value: alone.value, grads: alone.grads },
          { value: packed.value, grads: packed.grads },
        );
        assert.ok(
          alone.kernelsRun < packed.kernelsRun,
          `${alone.kernelsRun} ops, packed ${packed.kernelsRun}`,
        );
      });
});
