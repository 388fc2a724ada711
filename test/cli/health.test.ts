// The training warnings end to end: a small pipeline built to trigger each (on synth.task's seeded
// data, in seconds), the warnings its trained model carries, and what `rnnp show` prints of them;
// a healthy run of the same size raises none. That the shipped examples raise none at full size is
// test/stress/health.test.ts's (minutes); pipelines.test.ts checks it at their smoke sizes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LayerFlow } from "../../src/artifacts/model.js";
import { warningKind } from "../../src/numerics/health.js";
import { Rig } from "../rig.js";

interface Training {
  history: { epoch: number; loss: number; flow?: LayerFlow[] }[];
  warnings: string[];
  baselineLoss?: number;
}

/** A pipeline of synth.task data, one recurrent model and its training. */
function pipeline(data: string, layers: string, train: string): string {
  return `pipeline p {
  seed 1
  stage data = synth.task(${data}, val: 64, test: 8)
  stage net = model(data.train) {
${layers}
  }
  stage fit = train(net, data.train, ${train})
}
`;
}

const ADDING_RNN = "    simpleRNN(units: 8)\n    dense(units: 1)";
const COPY_RNN =
  '    embedding(dim: 8)\n    simpleRNN(units: 16, returnSequences: true)\n    dense(units: 12, activation: "softmax")';

/** Each warning, and the pipeline built for it: the kinds of all it raises, in order. */
const CASES: { name: string; source: string; kinds: string[] }[] = [
  {
    // A learning rate that warms up to 3: the loss climbs epoch after epoch.
    name: "rising loss, above epoch 1's: sgd warming up to lr 3",
    source: pipeline(
      'task: "adding", length: 10, train: 256',
      ADDING_RNN,
      "epochs: 6, warmup: 5, clipNorm: 1.0, optimizer: sgd(lr: 3)",
    ),
    kinds: ["above-first", "rising", "baseline"],
  },
  {
    // Adam at lr 2 throws the tanh units into saturation at once: flat loss, no gradient.
    name: "stall: adam at lr 2 saturates a SimpleRNN",
    source: pipeline(
      'task: "copy", length: 12, train: 256',
      COPY_RNN,
      "epochs: 6, optimizer: adam(lr: 2)",
    ),
    kinds: ["above-first", "stall", "vanish", "baseline"],
  },
  {
    // Too few steps to judge a horizon (under 8): the saturation is the warning.
    name: "saturation: adam at lr 0.5, 6 steps",
    source: pipeline(
      'task: "copy", length: 6, symbols: 2, train: 256',
      COPY_RNN,
      "epochs: 6, optimizer: adam(lr: 0.5)",
    ),
    kinds: ["above-first", "saturated", "baseline"],
  },
  {
    // The adding problem over 100 steps: a SimpleRNN's gradient does not reach the first marker.
    name: "vanishing: SimpleRNN on the adding problem at 100 steps",
    source: pipeline(
      'task: "adding", length: 100, train: 512',
      "    simpleRNN(units: 16)\n    dense(units: 1)",
      "epochs: 5, clipNorm: 1.0, optimizer: adam(lr: 0.01)",
    ),
    kinds: ["vanish", "baseline"],
  },
  {
    // A linear recurrence whose weights grow past 1 in the first steps of training.
    name: "exploding: a linear SimpleRNN at lr 0.1",
    source: pipeline(
      'task: "adding", length: 30, train: 256',
      '    simpleRNN(units: 16, activation: "linear")\n    dense(units: 1)',
      "epochs: 2, clipNorm: 1.0, optimizer: adam(lr: 0.1)",
    ),
    kinds: ["explode", "baseline"],
  },
  {
    // 16 training sequences, 64 units: it learns them by heart (the losses part after epoch 7).
    name: "overfitting: an LSTM on 16 copy sequences",
    source: pipeline(
      'task: "copy", length: 8, symbols: 3, train: 16',
      '    embedding(dim: 16)\n    lstm(units: 64, returnSequences: true)\n    dense(units: 12, activation: "softmax")',
      "validation: data.val, epochs: 20, batchSize: 8, optimizer: adam(lr: 0.03)",
    ),
    kinds: ["overfit"],
  },
  {
    name: "none: a GRU on the adding problem at 10 steps",
    source: pipeline(
      'task: "adding", length: 10, train: 512',
      "    gru(units: 16)\n    dense(units: 1)",
      "validation: data.val, epochs: 4, optimizer: adam(lr: 0.01)",
    ),
    kinds: [],
  },
];

async function trained(rig: Rig): Promise<Training> {
  const run = await rig.rnnp(["run", "p.rnnp", "--no-lock"]);
  assert.equal(run.code, 0, run.stderr);
  const shown = await rig.rnnp(["show", "fit", "p.rnnp", "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return (JSON.parse(shown.stdout) as { outputs: { out: { training: Training } } }).outputs.out
    .training;
}

describe("training warnings, each triggered by a pipeline built for it", () => {
  for (const c of CASES)
    it(c.name, async () => {
      const rig = new Rig().write({ "p.rnnp": c.source });
      const t = await trained(rig);
      assert.deepEqual(
        t.warnings.map((w) => warningKind(w) ?? w),
        c.kinds,
        t.warnings.join("\n"),
      );
      // What show prints: every warning, and the last epoch's flow per layer.
      const shown = await rig.rnnp(["show", "fit", "p.rnnp"]);
      for (const w of t.warnings) assert.ok(shown.stdout.includes(`warning: ${w}`), w);
      const last = t.history.at(-1)!.flow![0]!;
      assert.match(
        shown.stdout,
        new RegExp(`${last.layer} +${last.cell} +${last.horizon} of ${last.norms.length} steps`),
      );
    });
});

describe("rnnp show fit: horizon, saturation and warnings; --json carries the per-step norms", () => {
  it("an LSTM on the fused kernels, and the same on TF.js's cells", async () => {
    const source = pipeline(
      'task: "adding", length: 12, train: 128',
      "    lstm(units: 8)\n    dense(units: 1)",
      "epochs: 2, optimizer: adam(lr: 0.01)",
    );
    const rig = new Rig().write({ "p.rnnp": source });
    const t = await trained(rig);
    assert.deepEqual(
      t.history.map((e) => e.flow!.map((l) => [l.layer, l.cell, l.source, l.norms.length])),
      [[["lstm_1", "lstm", "kernels", 12]], [["lstm_1", "lstm", "kernels", 12]]],
    );
    const flow = t.history[1]!.flow![0]!;
    assert.ok(
      flow.norms.every((n) => n > 0 && Number.isFinite(n)),
      flow.norms.join(" "),
    );
    assert.ok(flow.saturation?.gates !== undefined, "an LSTM's forget gates are counted");
    const shown = (await rig.rnnp(["show", "fit", "p.rnnp"])).stdout;
    assert.match(shown, /lstm_1 horizon/);
    assert.match(shown, /gradient flow through time at epoch 2: the horizon counts/);
    assert.match(
      shown,
      /layer +cell +horizon +growth\/step +candidates saturated +gates near 0 +near 1/,
    );
    assert.match(
      shown,
      new RegExp(`lstm_1 +lstm +${flow.horizon} of 12 steps +x[\\d.]+ +[\\d.]+%`),
    );
    assert.doesNotMatch(shown, /fused kernels only/);

    // TF.js's cells (a run in a process of their own: one process runs one TF.js runtime; show
    // runs no model): the same norms through the probe, no gate statistics, and show says so.
    const tfjs = rig.spawnSync(["run", "p.rnnp", "--no-lock", "--kernels", "tfjs"]);
    assert.equal(tfjs.code, 0, tfjs.stderr);
    const onCells = await rig.rnnp(["show", "fit", "p.rnnp", "--kernels", "tfjs"]);
    assert.match(onCells.stdout, /gate saturation is measured on rnnp's fused kernels only/);
    const json = await rig.rnnp(["show", "fit", "p.rnnp", "--kernels", "tfjs", "--json"]);
    const cells = (JSON.parse(json.stdout) as { outputs: { out: { training: Training } } }).outputs
      .out.training.history[1]!.flow![0]!;
    assert.equal(cells.source, "tfjs");
    assert.equal(cells.saturation, undefined);
    assert.equal(cells.norms.length, 12);
  });
});
