// What the gradient-flow monitor costs, measured in pairs in one process (one runtime per process):
// the reference workload's model trains one epoch with `gradientFlow` on, one with it off, and again,
// alternating which goes first; each pair's ratio compares two epochs a few seconds apart, so a busy
// moment on a shared machine hits both. Prints, as JSON, every epoch's wall and CPU seconds by
// setting, in pair order.
//
//   node --import tsx bench/flow-worker.ts CELL KERNELS SAMPLES PAIRS
import seedrandom from "seedrandom";
import type { SequenceSet } from "../src/artifacts/sequences.js";
import { backward, CELLS, type CellKind, forward } from "../src/numerics/fused/cells.js";
import { fuse } from "../src/numerics/fused/fuse.js";
import { kernels as fusedKernels } from "../src/numerics/fused/kernels.js";
import { initialWeights, weightInits } from "../src/numerics/init.js";
import { layer } from "../src/numerics/layers/index.js";
import { buildModel } from "../src/numerics/layers/sequential.js";
import { loadTf } from "../src/numerics/tf.js";
import { train } from "../src/numerics/train.js";
import { weightSpecsOf, writeWeights } from "../src/numerics/weights.js";
import { describeRuntime, type KernelsName } from "../src/runtime/descriptor.js";

const [cell = "lstm", kernels = "fused", samplesArg = "1024", pairsArg = "6"] =
  process.argv.slice(2);
const N = Number(samplesArg);
const T = 50;
const F = 16;
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

const tf = await loadTf(describeRuntime("wasm", kernels as KernelsName));
const { model, init } = buildModel(
  tf,
  [
    layer(cell as "lstm" | "gru" | "simpleRNN", { units: 128 }),
    layer("dense", { units: 10, activation: "softmax" }),
  ],
  { features: F },
);
const specs = weightSpecsOf(model);
writeWeights(tf, model, specs, await initialWeights(weightInits(specs, init), 1));
if (kernels === "fused") fuse(tf, model);

/**
 * One call of rnnp's training loop (one epoch, its setup included): its wall seconds and the CPU
 * seconds of the process (every thread: the kernels' pool too). On a machine shared with other
 * work, CPU time is the steadier measure of what the monitor adds; both are reported.
 */
async function epoch(flow: boolean, seed: number): Promise<{ wall: number; cpu: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
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
      epochs: 1,
      batchSize: 64,
      shuffle: true,
      gradientFlow: flow,
    },
    {
      rng: (p) => seedrandom(`b:${seed}:${p}`),
      progress: () => {},
      log: () => {},
      signal: new AbortController().signal,
    },
  );
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

await epoch(true, 0); // warm-up: kernels compiled, buffers sized
const runs = {
  on: [] as { wall: number; cpu: number }[],
  off: [] as { wall: number; cpu: number }[],
};
for (let i = 0; i < Number(pairsArg); i++) {
  const order = i % 2 ? ([false, true] as const) : ([true, false] as const);
  for (const flow of order) runs[flow ? "on" : "off"].push(await epoch(flow, i + 1));
}

/**
 * The monitor's own work, apart from the rest of training: one batch's backward pass through the
 * recurrent layer on the fused kernels with the flow recorded and without, alternating, in CPU
 * seconds per call (what it adds to every batch).
 */
function kernelCost(calls: number): { on: number[]; off: number[] } {
  const kind = cell as CellKind;
  const [B, H] = [64, 128];
  const G = CELLS[kind].gates * H;
  const r = seedrandom.alea("kernel");
  const arr = (n: number, scale = 1) =>
    Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const k = fusedKernels();
  const f = forward(
    k,
    kind,
    { B, T, F, H },
    {
      x: arr(B * T * F),
      w: arr(F * G, 0.2),
      u: arr(H * G, 0.1),
      b: arr(G, 0.1),
      init: CELLS[kind].states.map(() => new Float32Array(B * H)),
      reverse: false,
      sequences: false,
    },
    true,
  );
  const dout = arr(B * H);
  const dstates = CELLS[kind].states.map(() => new Float32Array(B * H));
  const out = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i < calls; i++)
    for (const flow of i % 2 ? [false, true] : [true, false]) {
      const before = process.cpuUsage();
      backward(k, f.saved!, dout, dstates, flow);
      const used = process.cpuUsage(before);
      out[flow ? "on" : "off"].push((used.user + used.system) / 1e6);
    }
  return out;
}

process.stdout.write(
  `${JSON.stringify({ ...runs, ...(kernels === "fused" ? { backward: kernelCost(60) } : {}), ...(kernels === "fused" ? { kernels: fusedKernels().describe() } : {}) })}\n`,
);
