// A fused recurrent op inside nested gradient computations (adversarial training, the gradient of a
// gradient's value): TF.js asks for the op's gradient once per computation, so the op keeps its
// tape until the outermost asks (review13 found the first call's release let its scratch overwrite
// the activations the second read: silently wrong). Second-order terms through the kernels are
// not TF.js ops: asking for them is an error, never a missing term. Compared with TF.js's own cells.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { fuse } from "../../src/numerics/fused/fuse.js";
import { loadTf } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { randomWeights } from "./random-weights.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;
type LayersModel = import("../../src/runtime/tfjs.js").LayersModel;

const [B, T, F] = [5, 4, 3];

describe("nested gradient computations through a fused layer", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const r = seedrandom("x");
  const x = tf.tensor3d(
    Float32Array.from({ length: B * T * F }, () => r() * 2 - 1),
    [B, T, F],
  );
  const model = (fused: boolean): LayersModel => {
    const m = tf.sequential({
      layers: [tf.layers.lstm({ units: 3, recurrentActivation: "sigmoid", inputShape: [T, F] })],
    });
    randomWeights(tf, m, "w", 0.7);
    if (fused) assert.equal(fuse(tf, m).fused.length, 1);
    return m;
  };
  const close = (a: Tensor, b: Tensor, what: string) => {
    const [p, q] = [a.dataSync(), b.dataSync()];
    const worst = Math.max(...Array.from(p, (v, i) => Math.abs(v - q[i]!)));
    const scale = Math.max(...Array.from(q, Math.abs));
    assert.ok(
      worst <= 1e-5 * Math.max(1, scale),
      `${what}: fused differs from TF.js's cells by ${worst} (scale ${scale})`,
    );
  };

  it("single computations agree (control)", () => {
    const g = (m: LayersModel) =>
      tf.grad((a: Tensor) => tf.sum(m.apply(a, { training: true }) as Tensor))(x);
    close(g(model(true)), g(model(false)), "dx");
  });

  it("d/dx of an inner computation's value: the op's gradient is asked for twice", () => {
    const g = (m: LayersModel) =>
      tf.grad(
        (a: Tensor) =>
          tf.variableGrads(() => tf.sum(m.apply(a, { training: true }) as Tensor) as never).value,
      )(x);
    close(g(model(true)), g(model(false)), "dx");
  });

  it("adversarial (FGSM-style) training: weight gradients of clean + perturbed loss", () => {
    const g = (m: LayersModel) => {
      const wrt = m.trainableWeights.map(
        (w) => w.read() as import("../../src/runtime/tfjs.js").Variable,
      );
      const { grads } = tf.variableGrads(() => {
        const loss = (a: Tensor) => tf.sum(tf.square(m.apply(a, { training: true }) as Tensor));
        const clean = tf.valueAndGrad(loss)(x);
        const adv = tf.add(x, tf.mul(0.1, tf.sign(clean.grad)));
        return tf.add(clean.value, loss(adv)) as never;
      }, wrt);
      return wrt.map((v) => grads[v.name]!);
    };
    const [f, u] = [g(model(true)), g(model(false))];
    f.forEach((t, i) => close(t, u[i]!, `weight ${i}`));
  });

  it("second order (a Hessian-vector product): refused, rather than its term through the kernels missing", () => {
    // f(x) = sum(lstm(x)) + sum(x²): d/dx sum(∇f) = 2 + the LSTM's second-order term, which the
    // fused op cannot give (its gradient is the kernels' values, not TF.js ops).
    const hv = (m: LayersModel) => {
      const grad = tf.grad((a: Tensor) =>
        tf.add(tf.sum(m.apply(a, { training: true }) as Tensor), tf.sum(tf.mul(a, a))),
      );
      return tf.grad((a: Tensor) => tf.sum(grad(a)))(x);
    };
    assert.ok(
      hv(model(false))
        .dataSync()
        .some((v) => v !== 2),
      "the cells' term is there",
    );
    assert.throws(
      () => hv(model(true)),
      /second-order gradients through rnnp's fused recurrent kernels are not supported/,
    );
  });
});
