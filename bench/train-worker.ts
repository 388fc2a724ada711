// One backend per process (TF.js allows one): trains the reference LSTM workload with rnnp's own
// training loop and prints the throughput of the epochs after the first as JSON.
import seedrandom from "seedrandom";
import type { SequenceSet } from "../src/stages/artifacts/sequences.js";
import { initialWeights } from "../src/stages/numerics/init.js";
import { buildModel, type LayerCall } from "../src/stages/numerics/layers.js";
import { describeRuntime } from "../src/stages/numerics/runtime.js";
import { loadTf } from "../src/stages/numerics/tf.js";
import { train } from "../src/stages/numerics/train.js";
import { weightSpecsOf, writeWeights } from "../src/stages/numerics/weights.js";

const [backend = "wasm", samplesArg = "512", epochsArg = "2", cell = "lstm"] = process.argv.slice(2);
const N = Number(samplesArg);
const T = 50;
const F = 16;
const random = seedrandom.alea("bench");
const x = Float32Array.from({ length: N * T * F }, () => random() * 2 - 1);
const y = Int32Array.from({ length: N }, () => Math.floor(random() * 10));
const data: SequenceSet = { type: "sequences", input: "features", x, shape: [N, T, F], lengths: new Int32Array(N).fill(T), padding: "post", target: { kind: "class", y, classes: Array.from({ length: 10 }, (_, i) => String(i)) } };

const tf = await loadTf(describeRuntime(backend));
const rnn: LayerCall = { call: cell, args: { units: 128, activation: "tanh", recurrentActivation: "sigmoid", dropout: 0, recurrentDropout: 0, returnSequences: false, goBackwards: false } };
const model = buildModel(tf, [rnn, { call: "dense", args: { units: 10, activation: "softmax" } }], { features: F });
const specs = weightSpecsOf(model);
writeWeights(tf, model, specs, initialWeights(specs, 1));
const epochEnds: number[] = [performance.now()];
await train(tf, model, data, undefined, { loss: "sparseCategoricalCrossentropy", optimizer: { call: "adam", args: { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } }, schedule: { call: "constant", args: {} }, warmup: 0, epochs: Number(epochsArg), batchSize: 64, shuffle: true }, {
  rng: (p) => seedrandom(`b:${p}`),
  progress: () => {},
  log: (m) => {
    if (m.startsWith("epoch")) epochEnds.push(performance.now());
  },
  signal: new AbortController().signal,
});
// Epochs after the first (which pays for kernel warm-up and compilation).
const steady = (epochEnds.at(-1)! - epochEnds[1]!) / 1000;
process.stdout.write(JSON.stringify({ backend: tf.getBackend(), samplesPerSecond: (N * (epochEnds.length - 2)) / steady }) + "\n");
