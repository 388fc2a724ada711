// One bench process on the reference workload (batch 64, length 50, 16 features, one recurrent
// layer of 128 units, softmax over 10 classes, Adam 1e-3), run by bench/training.ts and
// bench/flow.ts: one process per backend (TF.js allows one). Prints one JSON line.
//
//   node --import tsx bench/worker.ts train [key=value ...]   training and inference throughput
//   node --import tsx bench/worker.ts flow [key=value ...]    what the gradient-flow monitor costs
//
// Keys (defaults): backend (wasm), kernels (tfjs | fused), cell (lstm | gru | simpleRNN),
// samples (512), recurrentDropout (0); train: epochs (2), gradientFlow (on | off); flow: pairs (6),
// calls (60).
import seedrandom from "seedrandom";
import type { SequenceSet } from "../src/artifacts/sequences.js";
import { backward, CELLS, type CellKind, forward } from "../src/numerics/fused/cells.js";
import { fuse } from "../src/numerics/fused/fuse.js";
import { kernels as fusedKernels } from "../src/numerics/fused/kernels.js";
import { initialWeights, weightInits } from "../src/numerics/init.js";
import { layer } from "../src/numerics/layers/index.js";
import { buildModel } from "../src/numerics/layers/sequential.js";
import { predictAll } from "../src/numerics/predict.js";
import { loadTf } from "../src/numerics/tf.js";
import { train } from "../src/numerics/train.js";
import { weightSpecsOf, writeWeights } from "../src/numerics/weights.js";
import { describeRuntime, type KernelsName } from "../src/runtime/descriptor.js";

const DEFAULTS = {
  backend: "wasm",
  kernels: "tfjs",
  cell: "lstm",
  samples: "512",
  recurrentDropout: "0",
  epochs: "2",
  gradientFlow: "on",
  pairs: "6",
  calls: "60",
};
type Option = keyof typeof DEFAULTS;

const [task, ...rest] = process.argv.slice(2);
const options = new Map<string, string>(Object.entries(DEFAULTS));
for (const arg of rest) {
  const [key, value] = arg.split("=", 2);
  if (value === undefined || !Object.hasOwn(DEFAULTS, key!))
    throw new Error(`bench/worker.ts: unknown option ${arg} (known: ${Object.keys(DEFAULTS)})`);
  options.set(key!, value);
}
const option = (key: Option) => options.get(key)!;
const kernels = option("kernels") as KernelsName;
const cell = option("cell") as CellKind;
const N = Number(option("samples"));
const [T, F, B, H] = [50, 16, 64, 128];

const random = seedrandom.alea("bench");
const data: SequenceSet = {
  type: "sequences",
  input: "features",
  x: Float32Array.from({ length: N * T * F }, () => random() * 2 - 1),
  shape: [N, T, F],
  lengths: new Int32Array(N).fill(T),
  padding: "post",
  target: {
    kind: "class",
    y: Int32Array.from({ length: N }, () => Math.floor(random() * 10)),
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
  },
};

const tf = await loadTf(describeRuntime(option("backend"), kernels));
const { model, init } = buildModel(
  tf,
  [
    layer(cell, { units: H, recurrentDropout: Number(option("recurrentDropout")) }),
    layer("dense", { units: 10, activation: "softmax" }),
  ],
  { features: F },
);
const specs = weightSpecsOf(model);
writeWeights(tf, model, specs, await initialWeights(weightInits(specs, init), 1));
if (kernels === "fused") fuse(tf, model);

/** rnnp's training loop over the data: `epochs` epochs, `log` hearing its lines. */
async function fit(epochs: number, gradientFlow: boolean, seed: string, log: (m: string) => void) {
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
      epochs,
      batchSize: B,
      shuffle: true,
      gradientFlow,
    },
    {
      rng: (p) => seedrandom(`${seed}:${p}`),
      progress: () => {},
      log,
      signal: new AbortController().signal,
    },
  );
}

interface Timed {
  wall: number;
  cpu: number;
}

/** CPU seconds of the process (every thread: the kernels' pool too) spent in `fn`. */
async function cpuOf(fn: () => unknown): Promise<Timed> {
  const started = performance.now();
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const described = kernels === "fused" ? { kernels: fusedKernels().describe() } : {};

/**
 * Training samples/s over the epochs after the first (which pays for warm-up and compilation),
 * inference samples/s, the tensor count after each epoch and the process's peak memory.
 */
async function throughput() {
  const epochEnds: number[] = [performance.now()];
  const tensors: number[] = [];
  await fit(Number(option("epochs")), option("gradientFlow") === "on", "b", (m) => {
    if (!m.startsWith("epoch")) return;
    epochEnds.push(performance.now());
    tensors.push(tf.memory().numTensors);
  });
  const steady = (epochEnds.at(-1)! - epochEnds[1]!) / 1000;
  const started = performance.now();
  predictAll(tf, model, data, B);
  return {
    backend: tf.getBackend(),
    train: (N * (epochEnds.length - 2)) / steady,
    infer: N / ((performance.now() - started) / 1000),
    tensors,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    ...described,
  };
}

/**
 * What the gradient-flow monitor costs, two ways, each alternating on and off so that a busy moment
 * on a shared machine hits both sides:
 * - epochs: whole epochs of rnnp's training loop (setup included), in pairs (which goes first
 *   alternates);
 * - backward (fused kernels only): the monitor's own work apart from the rest of training, one
 *   batch's backward pass through the recurrent layer with the flow recorded and without.
 * Each as wall and CPU seconds, in pair order.
 */
async function flowCost() {
  await fit(1, true, "warm-up", () => {}); // kernels compiled, buffers sized
  const epochs = { on: [] as Timed[], off: [] as Timed[] };
  for (let i = 0; i < Number(option("pairs")); i++)
    for (const flow of i % 2 ? [false, true] : [true, false])
      epochs[flow ? "on" : "off"].push(await cpuOf(() => fit(1, flow, `b:${i}`, () => {})));
  return {
    epochs,
    ...(kernels === "fused" ? { backward: await backwardCost(Number(option("calls"))) } : {}),
    batches: Math.ceil(N / B),
    ...described,
  };
}

async function backwardCost(calls: number) {
  const G = CELLS[cell].gates * H;
  const r = seedrandom.alea("kernel");
  const arr = (n: number, scale = 1) =>
    Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const k = fusedKernels();
  const dout = arr(B * H);
  const dstates = CELLS[cell].states.map(() => new Float32Array(B * H));
  const inputs = {
    x: arr(B * T * F),
    w: arr(F * G, 0.2),
    u: arr(H * G, 0.1),
    b: arr(G, 0.1),
    init: CELLS[cell].states.map(() => new Float32Array(B * H)),
    reverse: false,
    sequences: false,
  };
  const out = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i <= calls; i++)
    for (const flow of i % 2 ? [false, true] : [true, false]) {
      // The forward pass outside the measure: the backward pass releases its tape.
      const tape = forward(k, cell, { B, T, F, H }, inputs, true).saved!;
      const { cpu } = await cpuOf(() => backward(k, tape, dout, dstates, { flow }));
      if (i > 0) out[flow ? "on" : "off"].push(cpu); // call 0 warms up
    }
  return out;
}

const result = task === "train" ? await throughput() : task === "flow" ? await flowCost() : null;
if (result === null) throw new Error(`bench/worker.ts: the task is train or flow, not ${task}`);
process.stdout.write(`${JSON.stringify(result)}\n`);
