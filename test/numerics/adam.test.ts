// Adam stepped natively (src/numerics/adam.ts, native/addon.cc) against TF.js's own Adam, bit for
// bit, on the wasm backend with the fused kernels running natively. Skipped, with the reason, where
// the add-on is not built.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { onePassAdam } from "../../src/numerics/adam.js";
import { restoreOptimizer, saveOptimizer } from "../../src/numerics/optimizer-state.js";
import { setLearningRate } from "../../src/numerics/optimizers.js";
import type { TF } from "../../src/numerics/tf.js";
import { skip, wasmWithNative } from "./native-addon.js";

type Optimizer = import("../../src/runtime/tfjs.js").Optimizer;
type Variable = import("../../src/runtime/tfjs.js").Variable;

interface Case {
  shapes: number[][];
  args: [lr: number, beta1: number, beta2: number, epsilon: number];
  /** Learning rate of each step (a schedule sets it before every step). */
  rates: number[];
  /** Steps before the state is saved and restored into a fresh optimizer. */
  saveAfter: number;
  seed: number;
}

/** Gradients of every magnitude Adam meets, some exact zeros, from the case's seed. */
function gradients(c: Case, step: number): Float32Array[] {
  const random = seedrandom.alea(`${c.seed}:${step}`);
  return c.shapes.map((s) =>
    Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () =>
      random() < 0.05 ? 0 : (random() * 2 - 1) * 10 ** Math.floor(random() * 12 - 9),
    ),
  );
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Everything a step leaves: the weights, the slots, the scalars and the step count, as bits. */
async function stateOf(opt: Optimizer, vars: Variable[]) {
  const holder = opt as unknown as Record<string, Variable>;
  const [iterations, ...slots] = await opt.getWeights();
  const steps = iterations!.tensor.dataSync()[0];
  iterations!.tensor.dispose(); // made afresh by getWeights
  return {
    weights: vars.map((v) => bits(v.dataSync() as Float32Array)),
    slots: slots.map((s) => bits(s.tensor.dataSync() as Float32Array)),
    acc: ["accBeta1", "accBeta2"].map((n) => bits(holder[n]!.dataSync() as Float32Array)),
    iterations: steps,
  };
}

/** Trains fresh variables through the case's steps; `swap` replaces the optimizer after saveAfter steps. */
async function run(
  tf: TF,
  c: Case,
  make: () => Optimizer,
  swap?: (opt: Optimizer, vars: Variable[], names: string[]) => Promise<Optimizer>,
) {
  const random = seedrandom.alea(`${c.seed}:weights`);
  const vars = c.shapes.map((s) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, random), s),
      ),
    ),
  );
  const names = vars.map((_, i) => `w${i}`);
  let opt = make();
  for (const [step, lr] of c.rates.entries()) {
    if (swap && step === c.saveAfter) opt = await swap(opt, vars, names);
    setLearningRate(opt, lr);
    const grads = gradients(c, step).map((g, i) => tf.tensor(g, c.shapes[i]));
    opt.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, grads[i]!])));
    tf.dispose(grads);
  }
  const state = await stateOf(opt, vars);
  opt.dispose();
  tf.dispose(vars);
  return state;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  shapes: fc.array(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), {
    minLength: 1,
    maxLength: 4,
  }),
  args: fc.tuple(
    fc.double({ min: 1e-5, max: 0.5, noNaN: true }),
    fc.constantFrom(0, 0.5, 0.9, 0.95, 0.9999),
    fc.constantFrom(0, 0.9, 0.999, 0.99999),
    fc.constantFrom(1e-7, 1e-8, 1e-3, 0.1),
  ),
  rates: fc.array(fc.double({ min: 1e-6, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }),
  saveAfter: fc.integer({ min: 0, max: 12 }),
  seed: fc.integer(),
});

describe("Adam stepped natively: TF.js's Adam, bit for bit", { skip }, () => {
  const tfReady = wasmWithNative("adam");

  it("property: the same weights, moments, powers of beta and step count after random steps", async () => {
    const tf = await tfReady;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const ours = await run(tf, c, () => onePassAdam(tf, tf.train.adam(...c.args)));
        assert.deepEqual(ours, await run(tf, c, () => tf.train.adam(...c.args)));
      }),
      { numRuns: 150 },
    );
  });

  it("property: saved and restored midway (optimizer-state.ts), the bytes of training that never stopped", async () => {
    const tf = await tfReady;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const make = () => onePassAdam(tf, tf.train.adam(...c.args));
        const resumed = await run(tf, c, make, async (opt, vars, names) => {
          const trained = vars.map((variable, i) => ({ variable, name: names[i]! }));
          const saved = await saveOptimizer(opt, "adam", trained);
          opt.dispose();
          const fresh = make();
          await restoreOptimizer(tf, fresh, "adam", saved, trained);
          return fresh;
        });
        assert.deepEqual(resumed, await run(tf, c, () => tf.train.adam(...c.args)));
      }),
      { numRuns: 60 },
    );
  });

  it("the reference workload's shapes (an LSTM of 128 units on 16 features, a dense of 10)", async () => {
    const tf = await tfReady;
    const c: Case = {
      shapes: [[16, 512], [128, 512], [512], [128, 10], [10]],
      args: [1e-3, 0.9, 0.999, 1e-7],
      // Past step 7, where 1 - beta1^t (beta1^t < 0.5) is no longer exact in float32.
      rates: Array.from({ length: 12 }, (_, i) => 1e-3 * (1 + (i % 3))),
      saveAfter: 0,
      seed: 7,
    };
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const ours = await run(tf, c, () => onePassAdam(tf, tf.train.adam(...c.args)));
    assert.equal(backend.numDataIds(), before, "every buffer it made is freed with its tensor");
    assert.deepEqual(ours, await run(tf, c, () => tf.train.adam(...c.args)));
  });
});
