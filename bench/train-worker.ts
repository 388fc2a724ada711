// One backend per process (TF.js allows one): trains the reference workload with rnnp's own training
// loop and prints, as JSON, the training throughput of the epochs after the first, the inference
// throughput, the tensor count after each epoch and the process's peak memory.
import seedrandom from "seedrandom";
import type { SequenceSet } from "../src/artifacts/sequences.js";
import { fuse } from "../src/numerics/fused/fuse.js";
import { kernels as fusedKernels } from "../src/numerics/fused/kernels.js";
import { initialWeights, weightInits } from "../src/numerics/init.js";
import { layer } from "../src/numerics/layers/index.js";
import { buildModel } from "../src/numerics/layers/sequential.js";
import { predictAll } from "../src/numerics/predict.js";
import { describeRuntime, type KernelsName } from "../src/runtime/descriptor.js";
import { loadTf } from "../src/numerics/tf.js";
import { train } from "../src/numerics/train.js";
import { weightSpecsOf, writeWeights } from "../src/numerics/weights.js";

const [
  backend = "wasm",
  samplesArg = "512",
  epochsArg = "2",
  cell = "lstm",
  kernels = "tfjs",
  recurrentDropout = "0",
  gradientFlow = "on",
] = process.argv.slice(2);
const N = Number(samplesArg);
const T = 50;
const F = 16;
const random = seedrandom.alea("bench");
const x = Float32Array.from({ length: N * T * F }, () => random() * 2 - 1);
const y = Int32Array.from({ length: N }, () => Math.floor(random() * 10));
const data: SequenceSet = {
  type: "sequences",
  input: "features",
  x,
  shape: [N, T, F],
  lengths: new Int32Array(N).fill(T),
  padding: "post",
  target: { kind: "class", y, classes: Array.from({ length: 10 }, (_, i) => String(i)) },
};

const tf = await loadTf(describeRuntime(backend, kernels as KernelsName));
const rnn = layer(cell as "lstm" | "gru" | "simpleRNN", {
  units: 128,
  recurrentDropout: Number(recurrentDropout),
});
const { model, init } = buildModel(
  tf,
  [rnn, layer("dense", { units: 10, activation: "softmax" })],
  { features: F },
);
const specs = weightSpecsOf(model);
writeWeights(tf, model, specs, await initialWeights(weightInits(specs, init), 1));
if (kernels === "fused") fuse(tf, model);
const epochEnds: number[] = [performance.now()];
const tensors: number[] = [];
await train(
  tf,
  model,
  data,
  undefined,
  {
    loss: "sparseCategoricalCrossentropy",
    optimizer: { call: "adam", args: { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } },
    schedule: { call: "constant", args: {} },
    warmup: 0,
    epochs: Number(epochsArg),
    batchSize: 64,
    shuffle: true,
    gradientFlow: gradientFlow === "on",
  },
  {
    rng: (p) => seedrandom(`b:${p}`),
    progress: () => {},
    log: (m) => {
      if (!m.startsWith("epoch")) return;
      epochEnds.push(performance.now());
      tensors.push(tf.memory().numTensors);
    },
    signal: new AbortController().signal,
  },
);
// Epochs after the first (which pays for kernel warm-up and compilation).
const steady = (epochEnds.at(-1)! - epochEnds[1]!) / 1000;
const started = performance.now();
predictAll(tf, model, data, 64);
const infer = N / ((performance.now() - started) / 1000);
process.stdout.write(
  JSON.stringify({
    backend: tf.getBackend(),
    train: (N * (epochEnds.length - 2)) / steady,
    infer,
    tensors,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    ...(kernels === "fused" ? { kernels: fusedKernels().describe() } : {}),
  }) + "\n",
);
