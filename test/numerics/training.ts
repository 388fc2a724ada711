// Shared by train-cpu.test.ts, train-wasm.test.ts and train-fused.test.ts: one process per backend, as
// TF.js allows; the fused suite runs the same checks with recurrent layers on rnnp's fused kernels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import seedrandom from "seedrandom";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import { trainBatches } from "../../src/numerics/batches.js";
import { initialWeights, weightInits } from "../../src/numerics/init.js";
import { layer, type LayerCall } from "../../src/numerics/layers/index.js";
import { buildModel } from "../../src/numerics/layers/sequential.js";
import type { OptimizerCall } from "../../src/numerics/optimizers.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { fuse } from "../../src/numerics/fused/fuse.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { evaluateLoss, NonFiniteLoss, train, type TrainConfig } from "../../src/numerics/train.js";
import { readWeights, weightSpecsOf, writeWeights } from "../../src/numerics/weights.js";

const N = 48;
const T = 6;

/** Token sequences whose class is whether token 3 occurs: learnable in a few steps. */
export function tokenData(seed = 1, flip = false): SequenceSet {
  const random = seedrandom.alea(String(seed));
  const x = new Int32Array(N * T);
  const y = new Int32Array(N);
  const lengths = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const len = 2 + Math.floor(random() * (T - 1));
    lengths[i] = len;
    for (let t = T - len; t < T; t++) x[i * T + t] = 1 + Math.floor(random() * 5);
    y[i] = Number(Array.from(x.subarray(i * T, (i + 1) * T)).includes(3)) ^ Number(flip);
  }
  return {
    type: "sequences",
    input: "tokens",
    x,
    shape: [N, T],
    lengths,
    padding: "pre",
    target: { kind: "class", y, classes: ["no", "yes"] },
  };
}

function featureData(): SequenceSet {
  const random = seedrandom.alea("f");
  const x = Float32Array.from({ length: N * T * 2 }, () => random() * 2 - 1);
  const y = Float32Array.from({ length: N }, (_, i) => x[i * T * 2]! + x[i * T * 2 + 3]!);
  return {
    type: "sequences",
    input: "features",
    x,
    shape: [N, T, 2],
    lengths: new Int32Array(N).fill(T),
    padding: "post",
    target: { kind: "value", y, names: ["v"], horizon: 1, size: 1 },
  };
}

const softmax2 = layer("dense", { units: 2, activation: "softmax" });

const MODELS: Record<string, { layers: LayerCall[]; data: () => SequenceSet }> = {
  "embedding (masked) + lstm + dense": {
    layers: [layer("embedding", { dim: 4, mask: true }), layer("lstm", { units: 4 }), softmax2],
    data: tokenData,
  },
  "gru (stacked, recurrent dropout) + simpleRNN (backwards)": {
    layers: [
      layer("embedding", { dim: 4 }),
      layer("gru", { units: 4, returnSequences: true, recurrentDropout: 0.3 }),
      layer("simpleRNN", { units: 3, goBackwards: true }),
      softmax2,
    ],
    data: tokenData,
  },
  "bidirectional lstm + dropout + layerNormalization": {
    layers: [
      layer("embedding", { dim: 4 }),
      layer("bidirectional", { layer: layer("lstm", { units: 3 }), merge: "concat" }),
      layer("dropout", { rate: 0.3 }),
      layer("layerNormalization"),
      softmax2,
    ],
    data: tokenData,
  },
  "masking + timeDistributed(dense) + gru, regression": {
    layers: [
      layer("masking"),
      layer("simpleRNN", { units: 4, returnSequences: true }),
      layer("timeDistributed", { layer: layer("dense", { units: 3, activation: "relu" }) }),
      layer("gru", { units: 3 }),
      layer("dense", { units: 1 }),
    ],
    data: featureData,
  },
};

const CONFIG: TrainConfig = {
  loss: "sparseCategoricalCrossentropy",
  optimizer: { call: "adam", args: { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } },
  schedule: { call: "constant", args: {} },
  warmup: 0,
  epochs: 2,
  batchSize: 16,
  shuffle: true,
  gradientFlow: true,
};
const hooks = (seed = 3) => ({
  rng: (p: string) => seedrandom(`${seed}:${p}`),
  progress: () => {},
  log: () => {},
  signal: new AbortController().signal,
});

let fusedKernels = false;

async function fresh(tf: TF, layers: LayerCall[], data: SequenceSet) {
  const { model, init } = buildModel(
    tf,
    layers,
    data.input === "tokens" ? { tokens: 8 } : { features: data.shape[2]! },
  );
  const specs = weightSpecsOf(model);
  writeWeights(tf, model, specs, await initialWeights(weightInits(specs, init), 99));
  if (fusedKernels) fuse(tf, model);
  return model;
}

/** Trains under a seeded Math.random, as the executor runs every stage. */
async function fit(
  tf: TF,
  layers: LayerCall[],
  data: SequenceSet,
  cfg: Partial<TrainConfig> = {},
  validation?: SequenceSet,
  log: (m: string) => void = () => {},
) {
  const model = await fresh(tf, layers, data);
  const original = Math.random;
  seedrandom("stage", { global: true });
  try {
    const result = await train(
      tf,
      model,
      data,
      validation,
      { ...CONFIG, ...(data.target.kind === "value" ? { loss: "mse" } : {}), ...cfg },
      { ...hooks(), log },
    );
    return { model, result, weights: readWeights(model) };
  } finally {
    Math.random = original;
  }
}

export function trainingSuite(backend: "cpu" | "wasm", kernels: "tfjs" | "fused" = "tfjs"): void {
  fusedKernels = kernels === "fused";
  describe(`training on ${backend}${fusedKernels ? ", recurrent layers on the fused kernels" : ""}`, () => {
    const tfReady = loadTf(describeRuntime(backend, kernels));

    it("leaves no tensors behind: the count is the same after every epoch", async () => {
      const tf = await tfReady;
      const counts: number[] = [];
      const { model } = await fit(
        tf,
        MODELS["gru (stacked, recurrent dropout) + simpleRNN (backwards)"]!.layers,
        tokenData(),
        { epochs: 4 },
        tokenData(2),
        (m) => {
          if (m.startsWith("epoch")) counts.push(tf.memory().numTensors);
        },
      );
      assert.equal(counts.length, 4);
      assert.deepEqual(
        counts,
        counts.map(() => counts[0]),
        `tensors after each epoch: ${counts.join(", ")}`,
      );
      model.dispose();
    });

    for (const [name, { layers, data }] of Object.entries(MODELS)) {
      it(`trains: ${name}`, async () => {
        const tf = await tfReady;
        const d = data();
        const before = await fresh(tf, layers, d);
        const start = readWeights(before);
        before.dispose();
        const { model, result, weights } = await fit(tf, layers, d);
        assert.equal(result.history.length, 2);
        assert.ok(result.history.every((h) => Number.isFinite(h.loss) && h.gradNorm > 0));
        assert.ok(
          weights.some((w, i) => w.some((v, j) => v !== start[i]![j])),
          "weights moved",
        );
        const again = await fit(tf, layers, d);
        assert.deepEqual(
          again.weights,
          weights,
          "same inputs and seeds: the same weights, bit for bit",
        );
        model.dispose();
        again.model.dispose();
      });
    }

    it("learns the token task", async () => {
      const tf = await tfReady;
      const { result, model } = await fit(
        tf,
        MODELS["embedding (masked) + lstm + dense"]!.layers,
        tokenData(),
        { epochs: 4 },
      );
      assert.ok(result.history.at(-1)!.loss < result.history[0]!.loss, "loss went down");
      model.dispose();
    });

    it("clipNorm bounds each update's global norm; clipValue each element", async () => {
      const tf = await tfReady;
      const layers = MODELS["embedding (masked) + lstm + dense"]!.layers;
      const initial = await fresh(tf, layers, tokenData());
      const start = readWeights(initial);
      initial.dispose();
      const sgd: OptimizerCall = { call: "sgd", args: { lr: 1, momentum: 0, nesterov: false } };
      const one = { epochs: 1, batchSize: N, optimizer: sgd };
      const delta = (w: Float32Array[]) => w.map((a, i) => a.map((v, j) => v - start[i]![j]!));
      const byNorm = delta(
        (await fit(tf, layers, tokenData(), { ...one, clipNorm: 0.01 })).weights,
      );
      const norm = Math.sqrt(byNorm.reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));
      assert.ok(norm <= 0.01 * 1.001 && norm > 0.005, `update norm ${norm}`);
      const byValue = delta(
        (await fit(tf, layers, tokenData(), { ...one, clipValue: 0.001 })).weights,
      );
      // Each element within the bound, and the bound reached (an update of zeros is within it too).
      const largest = Math.max(
        ...byValue.map((a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)),
      );
      assert.ok(largest <= 0.001 * 1.001 && largest >= 0.001 * 0.999, `largest element ${largest}`);
      const loose = (await fit(tf, layers, tokenData(), { ...one, clipNorm: 1e9 })).weights;
      assert.deepEqual(
        loose,
        (await fit(tf, layers, tokenData(), one)).weights,
        "a clipNorm never reached changes nothing",
      );
    });

    it("early stopping stops after `patience` bad epochs and restores the best epoch's weights", async () => {
      const tf = await tfReady;
      const layers = MODELS["embedding (masked) + lstm + dense"]!.layers;
      // Validation labels are the opposite of training's: the better the fit, the worse val_loss.
      const val = tokenData(1, true);
      const { result, model } = await fit(
        tf,
        layers,
        tokenData(),
        {
          epochs: 20,
          earlyStopping: { monitor: "val_loss", patience: 2, minDelta: 0, restoreBest: true },
        },
        val,
      );
      assert.ok(result.history.length < 20, `stopped after ${result.history.length} epochs`);
      assert.equal(result.history.length, result.bestEpoch! + 2);
      const now = evaluateLoss(tf, model, val, CONFIG);
      assert.ok(
        Math.abs(now.loss - result.history[result.bestEpoch! - 1]!.valLoss!) < 1e-5,
        "the restored weights are the best epoch's",
      );
      model.dispose();
    });

    it("a loss that becomes NaN stops training, naming the epoch and batch", async () => {
      const tf = await tfReady;
      const layers = MODELS["masking + timeDistributed(dense) + gru, regression"]!.layers;
      const blowUp = featureData();
      blowUp.x.fill(1e30, 0, 12);
      await assert.rejects(
        fit(tf, layers, blowUp, {
          optimizer: { call: "sgd", args: { lr: 1e30, momentum: 0, nesterov: false } },
        }),
        (e: unknown) =>
          e instanceof NonFiniteLoss &&
          /the loss became (NaN|Infinity) at epoch 1, batch \d of 3/.test(e.message),
      );
    });
  });
}

export { trainBatches };
