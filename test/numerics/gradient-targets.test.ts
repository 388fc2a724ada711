// Which tensors' gradients a computation can ask for (src/numerics/gradient-targets.ts), and the
// fused recurrent op leaving out its input's gradient where nobody can ask for it: training data.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import { KERNELS, type Call } from "../../src/numerics/fused/abi.js";
import { fuse } from "../../src/numerics/fused/fuse.js";
import { kernels } from "../../src/numerics/fused/kernels.js";
import { recurrent } from "../../src/numerics/fused/op.js";
import { needsGradient, trackGradientTargets } from "../../src/numerics/gradient-targets.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { randomWeights } from "./random-weights.js";

type Tensor = import("../../src/runtime/tfjs.js").Tensor;
type Variable = import("../../src/runtime/tfjs.js").Variable;
type LayersModel = import("../../src/runtime/tfjs.js").LayersModel;

const [B, T, F] = [20, 6, 4];
const random = seedrandom("targets");
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

/** needsGradient(t) as judged inside a gradient computation of something else. */
function judgedInside(tf: TF, t: Tensor): boolean | undefined {
  let judged: boolean | undefined;
  tf.grad((other: Tensor) => {
    judged = needsGradient(tf, t);
    return tf.sum(other);
  })(tf.tensor1d([3]));
  return judged;
}

describe("which gradients a computation can ask for", async () => {
  const tf = await loadTf(describeRuntime("cpu"));

  it("cannot tell before tracking, or outside a gradient computation: needed", () => {
    const x = tf.tensor1d([1, 2]);
    assert.equal(judgedInside(tf, x), true, "untracked: counted as needed");
    trackGradientTargets(tf);
    trackGradientTargets(tf); // once per engine, however often asked
    assert.equal(needsGradient(tf, x), true, "no gradient computation under way");
  });

  it("a differentiated tensor, and what an op made, are needed; other leaves are not", () => {
    trackGradientTargets(tf);
    const x = tf.tensor1d([1, 2]);
    const data = tf.tensor1d([3, 4]);
    const seen: Record<string, boolean> = {};
    tf.grads((a: Tensor) => {
      const made = tf.mul(data, 2);
      seen.x = needsGradient(tf, a);
      seen.data = needsGradient(tf, data);
      seen.made = needsGradient(tf, made);
      return tf.sum(tf.mul(a, made));
    })([x]);
    assert.deepEqual(seen, { x: true, data: false, made: true });
  });

  it("variables: those differentiated are needed, a frozen one is not", () => {
    trackGradientTargets(tf);
    const trained = tf.variable(tf.tensor1d([1, 2]));
    const frozen = tf.variable(tf.tensor1d([3, 4]), false);
    const seen: boolean[] = [];
    tf.variableGrads(() => {
      seen.push(needsGradient(tf, trained), needsGradient(tf, frozen));
      return tf.sum(tf.mul(trained, frozen));
    }, [trained]);
    assert.deepEqual(seen, [true, false]);
  });

  it("nested computations: the outer one's tensors stay needed inside the inner one", () => {
    trackGradientTargets(tf);
    const outer = tf.scalar(2);
    let inner: boolean | undefined;
    tf.grad((o: Tensor) =>
      tf.grad((i: Tensor) => {
        inner = needsGradient(tf, o);
        return tf.mul(tf.mul(i, i), o);
      })(tf.scalar(3)),
    )(outer);
    assert.equal(inner, true);
  });
});

/** The dx argument of every backward kernel call the process's kernels run while `fn` runs. */
function backwardDx(fn: () => void): number[] {
  const k = kernels();
  const run = k.pool.run.bind(k.pool);
  const seen: number[] = [];
  k.pool.run = (calls: readonly Call[]) => {
    for (const c of calls)
      if (c.fn.endsWith("Backward"))
        seen.push(c.args[KERNELS[c.fn].args.findIndex((a) => a.name === "dx")] as number);
    run(calls);
  };
  try {
    fn();
  } finally {
    k.pool.run = run;
  }
  return seen;
}

describe("the fused op leaves out the gradient of data", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const skips = kernels().skipsInputGradient;

  /** data -> LSTM (every step) -> GRU: the first layer reads data, the second the first's output. */
  const model = (): LayersModel => {
    const m = tf.sequential({
      layers: [
        tf.layers.lstm({
          units: 5,
          returnSequences: true,
          recurrentActivation: "sigmoid",
          inputShape: [T, F],
        }),
        tf.layers.gru({ units: 3, recurrentActivation: "sigmoid" }),
      ],
    });
    randomWeights(tf, m, "weights", 0.5);
    return m;
  };
  const x = tf.tensor3d(values(B * T * F), [B, T, F]);
  const weigh = tf.tensor2d(values(B * 3), [B, 3]);

  /** Gradients of every weight (and of x, if asked), and the backward calls' dx arguments. */
  const gradients = (m: LayersModel, input: Tensor, wrtInput: boolean) => {
    const wrt = [
      ...(wrtInput ? [input as Variable] : []),
      ...m.trainableWeights.map((w) => w.read() as Variable),
    ];
    let grads: Float32Array[] = [];
    const dx = backwardDx(() => {
      const g = tf.variableGrads(
        () => tf.sum(tf.mul(m.apply(input, { training: true }) as Tensor, weigh)) as never,
        wrt,
      ).grads;
      grads = wrt.map((v) => g[v.name]!.dataSync() as Float32Array);
    });
    return { grads, dx };
  };
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));

  it("the same weight gradients, bit for bit, with the input's gradient computed or left out", () => {
    const m = model();
    fuse(tf, m);
    const fromData = gradients(m, x, false);
    const variable = tf.variable(x.clone());
    const fromVariable = gradients(m, variable, true);
    // Two layers x two chunks of 16 rows (20 rows) each, every time.
    assert.equal(fromData.dx.length, 4);
    assert.equal(fromVariable.dx.length, 4);
    // Backward runs the last layer first: the GRU's calls, then the LSTM's.
    assert.ok(
      fromData.dx.slice(0, 2).every((p) => p !== 0),
      "the GRU reads the LSTM's output: its input's gradient is computed",
    );
    assert.deepEqual(
      fromData.dx.slice(2).map((p) => p === 0),
      [skips, skips],
      skips ? "the LSTM reads data: the native kernels skip dx" : "wasm kernels always compute dx",
    );
    assert.ok(
      fromVariable.dx.every((p) => p !== 0),
      "an input being differentiated gets its gradient",
    );
    assert.equal(fromVariable.grads.length, fromData.grads.length + 1);
    assert.deepEqual(fromData.grads.map(bits), fromVariable.grads.slice(1).map(bits));
    assert.ok(
      fromVariable.grads[0]!.some((v) => v !== 0),
      "the input's gradient is real",
    );
  });

  it("an input judged wrongly as data would fail loudly, never give a wrong gradient", () => {
    const k = kernels();
    const w = tf.tensor2d(values(F * 8), [F, 8]);
    const u = tf.tensor2d(values(2 * 8), [2, 8]);
    const b = tf.tensor1d(values(8));
    const init = [tf.zeros([B, 2]), tf.zeros([B, 2])];
    const args = { kernel: w, recurrentKernel: u, bias: b, init, reverse: false, sequences: false };
    const grad = (inputGradient: boolean) =>
      tf.grad((input: Tensor) =>
        tf.sum(
          recurrent(tf, k, "lstm", { ...args, x: input, withStates: false, inputGradient }, true)
            .output,
        ),
      )(x);
    assert.deepEqual(grad(true).shape, [B, T, F]);
    assert.throws(() => grad(false), /gradient of input '0' has shape '0'/);
    // The same for an initial state (inputs 4 and 5 of an LSTM's op).
    const stateGrad = (stateGradients: boolean) =>
      tf.grad((h: Tensor) =>
        tf.sum(
          recurrent(
            tf,
            k,
            "lstm",
            { ...args, x, init: [h, init[1]!], withStates: false, stateGradients },
            true,
          ).output,
        ),
      )(init[0]!);
    assert.deepEqual(stateGrad(true).shape, [B, 2]);
    assert.throws(() => stateGrad(false), /gradient of input '4' has shape '0'/);
  });
});

describe("gradient targets, adversarially (review13)", async () => {
  const tf = await loadTf(describeRuntime("cpu"));
  const random = seedrandom("r13");
  const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  const model = (seed: string): LayersModel => {
    const m = tf.sequential({
      layers: [tf.layers.lstm({ recurrentActivation: "sigmoid", units: 3, inputShape: [T, F] })],
    });
    randomWeights(tf, m, seed, 0.7);
    return m;
  };
  const x = tf.tensor3d(values(B * T * F), [B, T, F]);

  it("an exception thrown inside a gradient computation pops its xs (later data is still judged data)", () => {
    trackGradientTargets(tf);
    const data = tf.tensor1d([1, 2]);
    assert.throws(
      () =>
        tf.grad(() => {
          throw new Error("boom");
        })(data),
      /boom/,
    );
    assert.equal(
      judgedInside(tf, data),
      false,
      "data is data again: the failed computation's xs are gone",
    );
  });

  it("tracking first installed while a gradient computation is under way: the outer xs are unknown", () => {
    // A fresh engine state is not possible in-process; simulate "installed mid-computation" the way
    // it happens: the outer computation runs the original gradients (captured before tracking).
    // The wrapper only knows computations that started after it was installed, so an inner
    // computation inside an untracked outer one makes the outer xs look like data.
    trackGradientTargets(tf);
    const engine = tf.engine() as unknown as {
      gradients: (...a: unknown[]) => unknown;
      state: { gradientDepth: number };
    };
    const tracked = engine.gradients;
    // The original (untracked) gradients: what ran before fuse() installed the wrapper.
    const original = Object.getPrototypeOf(engine).gradients.bind(engine);
    const m = model("mid");
    fuse(tf, m);
    let judged: boolean | undefined;
    const outer = () =>
      original(() => {
        // An inner, tracked computation with respect to something else.
        const y = tf.variableGrads(() => {
          judged = needsGradient(tf, x);
          return tf.sum(m.apply(x, { training: true }) as Tensor) as never;
        }).value;
        return y;
      }, [x]);
    let error: unknown;
    try {
      outer();
    } catch (e) {
      error = e;
    } finally {
      engine.gradients = tracked;
    }
    // Judged false before the engine's depth was compared with the computations tracked: the outer
    // computation then threw (TF.js's shape check on the empty gradient) where it had an answer.
    assert.equal(error, undefined, String(error));
    assert.equal(judged, true, `x is the outer computation's xs, but was judged ${judged}`);
  });
});
