import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-web";
import seedrandom from "seedrandom";
import type { TrainedModel } from "../../src/artifacts/model.js";
import type { SequenceSet } from "../../src/artifacts/sequences.js";
import type { Json } from "../../src/core/canonical.js";
import { layer, type LayerCall } from "../../src/numerics/layers/index.js";
import { buildModel } from "../../src/numerics/layers/sequential.js";
import { toOnnx } from "../../src/numerics/onnx/export.js";
import { predictAll } from "../../src/numerics/predict.js";
import { buildSeq2seq, inferenceModels } from "../../src/numerics/seq2seq.js";
import { loadTf } from "../../src/numerics/tf.js";
import { weightSpecsOf, writeWeights } from "../../src/numerics/weights.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { checkOnnx, missingOnnxChecker } from "../fixtures/onnx.js";
import { tempDir } from "../helpers.js";

/**
 * ONNX export (issue 13) against a real ONNX runtime (onnxruntime-web's WebAssembly build, in
 * Node): every layer rnnp declares, in the combinations that matter for masks (pre- and
 * post-padding, goBackwards, bidirectional, stacked, sequences of padding only), with random
 * weights and biases far from zero so that a gate or bias in the wrong place shows, gives what
 * TF.js gives (`predictAll`, what `rnnp predict` runs) within 1e-5.
 */
const TOLERANCE = 1e-5;
const tf = await loadTf(describeRuntime("cpu"));
ort.env.wasm.numThreads = 1;

const N = 7;
const T = 6;

/** Token ids 1..8, lengths 0..T (one sequence of padding only), padded on the given side. */
function tokens(padding: "pre" | "post", seed = "t"): SequenceSet {
  const random = seedrandom.alea(seed);
  const x = new Int32Array(N * T);
  const lengths = Int32Array.from({ length: N }, (_, i) =>
    i === 0 ? 0 : i === 1 ? T : 1 + Math.floor(random() * T),
  );
  for (let i = 0; i < N; i++) {
    const L = lengths[i]!;
    const from = padding === "pre" ? T - L : 0;
    for (let t = from; t < from + L; t++) x[i * T + t] = 1 + Math.floor(random() * 8);
  }
  return {
    type: "sequences",
    input: "tokens",
    x,
    shape: [N, T],
    lengths,
    padding,
    target: { kind: "none" },
  };
}

/** Feature vectors (3 per step), post-padded with zero steps after variable lengths, or all full. */
function features(padded: boolean): SequenceSet {
  const random = seedrandom.alea("f");
  const F = 3;
  const x = new Float32Array(N * T * F);
  const lengths = Int32Array.from({ length: N }, (_, i) => (padded ? 1 + ((i * 5) % T) : T));
  for (let i = 0; i < N; i++)
    for (let t = 0; t < lengths[i]!; t++)
      for (let f = 0; f < F; f++) x[(i * T + t) * F + f] = random() * 4 - 2;
  return {
    type: "sequences",
    input: "features",
    x,
    shape: [N, T, F],
    lengths,
    padding: "post",
    target: { kind: "none" },
  };
}

/** Uniform in [-0.9, 0.9]: biases included, so that the forget gate's or reset gate's place shows. */
function randomWeights(shapes: readonly (readonly number[])[], seed: string): Float32Array[] {
  const random = seedrandom.alea(seed);
  return shapes.map((s) =>
    Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => random() * 1.8 - 0.9),
  );
}

function trained(
  model: import("../../src/runtime/tfjs.js").LayersModel,
  data: SequenceSet,
  target: TrainedModel["data"]["target"] = { kind: "class", classes: ["a", "b"] },
): TrainedModel {
  const specs = weightSpecsOf(model);
  const weights = randomWeights(
    specs.map((s) => s.shape),
    "w",
  );
  writeWeights(tf, model, specs, weights);
  return {
    type: "trained",
    topology: model.toJSON(null, false) as unknown as Json,
    weightSpecs: specs,
    weights,
    history: [],
    config: {},
    data: { input: data.input, padding: data.padding, target },
    warnings: [],
  };
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

function feed(set: SequenceSet): ort.Tensor {
  return set.input === "tokens"
    ? new ort.Tensor("int32", set.x as Int32Array, [...set.shape])
    : new ort.Tensor("float32", set.x as Float32Array, [...set.shape]);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "outputs of different sizes");
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Exports a model with random weights, runs it in onnxruntime and TF.js; the largest difference. */
/** Every exported file, for ONNX's checker at the end. */
const exported: { name: string; bytes: Uint8Array }[] = [];

async function roundTrip(calls: LayerCall[], data: SequenceSet): Promise<number> {
  const F = data.shape[2];
  const { model } = buildModel(
    tf,
    calls,
    data.input === "tokens" ? { tokens: 9 } : { features: F! },
  );
  const t = trained(model, data);
  const reference = predictAll(tf, model, data).values;
  model.dispose();
  const [file] = toOnnx(t, { metadata: [], producerVersion: "test" });
  exported.push({ name: `case${exported.length}.onnx`, bytes: file!.bytes });
  const s = await session(file!.bytes);
  const out = await s.run({ input: feed(data) });
  return maxDiff(out.output!.data as Float32Array, reference);
}

const soft = (units = 2) => layer("dense", { units, activation: "softmax" });

const CASES: [string, LayerCall[], "pre" | "post" | "features" | "full"][] = [];
for (const padding of ["pre", "post"] as const) {
  CASES.push(
    [
      `embedding (mask) + lstm + dense, ${padding}-padded`,
      [layer("embedding", { dim: 4, mask: true }), layer("lstm", { units: 5 }), soft()],
      padding,
    ],
    [
      `stacked: gru (sequences, goBackwards) + simpleRNN (goBackwards), masked, ${padding}-padded`,
      [
        layer("embedding", { dim: 3, mask: true }),
        layer("gru", { units: 4, returnSequences: true, goBackwards: true }),
        layer("simpleRNN", { units: 3, goBackwards: true }),
        soft(3),
      ],
      padding,
    ],
    [
      `stacked: lstm (sequences) + gru (sequences, goBackwards) + lstm, masked, ${padding}-padded`,
      [
        layer("embedding", { dim: 3, mask: true }),
        layer("lstm", { units: 4, returnSequences: true }),
        layer("gru", { units: 3, returnSequences: true, goBackwards: true }),
        layer("lstm", { units: 3 }),
        soft(),
      ],
      padding,
    ],
    [
      `bidirectional lstm (sequences) + bidirectional gru (sum), masked, ${padding}-padded`,
      [
        layer("embedding", { dim: 4, mask: true }),
        layer("bidirectional", { layer: layer("lstm", { units: 3, returnSequences: true }) }),
        layer("bidirectional", { layer: layer("gru", { units: 3 }), merge: "sum" }),
        soft(),
      ],
      padding,
    ],
    [
      `masked per-step outputs: simpleRNN (sequences) + timeDistributed(dense), ${padding}-padded`,
      [
        layer("embedding", { dim: 3, mask: true }),
        layer("simpleRNN", { units: 4, returnSequences: true }),
        layer("timeDistributed", { layer: layer("dense", { units: 5, activation: "softmax" }) }),
      ],
      padding,
    ],
    [
      `masked per-step outputs read backwards: lstm (sequences, goBackwards) + dense, ${padding}-padded`,
      [
        layer("embedding", { dim: 3, mask: true }),
        layer("lstm", { units: 4, returnSequences: true, goBackwards: true }),
        layer("dense", { units: 2 }),
      ],
      padding,
    ],
  );
}
CASES.push(
  [
    "unmasked padding is read as tokens: bidirectional simpleRNN (mul) + gru (goBackwards, sequences) + timeDistributed",
    [
      layer("embedding", { dim: 4 }),
      layer("bidirectional", {
        layer: layer("simpleRNN", { units: 3, returnSequences: true }),
        merge: "mul",
      }),
      layer("gru", { units: 3, returnSequences: true, goBackwards: true }),
      layer("timeDistributed", { layer: layer("dense", { units: 4, activation: "softmax" }) }),
    ],
    "pre",
  ],
  [
    "masking + bidirectional lstm (ave) + dropout + dense, post-padded features",
    [
      layer("masking"),
      layer("bidirectional", { layer: layer("lstm", { units: 4 }), merge: "ave" }),
      layer("dropout", { rate: 0.3 }),
      soft(3),
    ],
    "features",
  ],
  [
    "masking + bidirectional gru (sequences, goBackwards inside) + lstm, post-padded features",
    [
      layer("masking", { value: 0 }),
      layer("bidirectional", {
        layer: layer("gru", { units: 3, returnSequences: true, goBackwards: true }),
      }),
      layer("lstm", { units: 3 }),
      soft(),
    ],
    "features",
  ],
  [
    "cell activations: lstm (relu, hardSigmoid gates) + gru (softsign, sigmoid) + simpleRNN (elu) + layerNormalization + dense",
    [
      layer("lstm", {
        units: 4,
        activation: "relu",
        recurrentActivation: "hardSigmoid",
        returnSequences: true,
      }),
      layer("gru", { units: 4, activation: "softsign", returnSequences: true }),
      layer("simpleRNN", { units: 3, activation: "elu", returnSequences: true }),
      layer("layerNormalization"),
      layer("simpleRNN", { units: 3, activation: "softplus" }),
      layer("dense", { units: 2 }),
    ],
    "full",
  ],
  [
    "dense activations: selu, swish, hardSigmoid, elu, tanh, relu, sigmoid, softplus, softsign",
    [
      layer("gru", { units: 4, recurrentActivation: "hardSigmoid" }),
      layer("dense", { units: 4, activation: "selu" }),
      layer("dense", { units: 4, activation: "swish" }),
      layer("dense", { units: 4, activation: "hardSigmoid" }),
      layer("dense", { units: 4, activation: "elu" }),
      layer("dense", { units: 4, activation: "tanh" }),
      layer("dense", { units: 4, activation: "relu" }),
      layer("dense", { units: 4, activation: "softplus" }),
      layer("dense", { units: 4, activation: "softsign" }),
      layer("dense", { units: 3, activation: "sigmoid" }),
    ],
    "full",
  ],
);

const cell = (call: "lstm" | "gru", units: number) => ({
  call,
  args: { units, dropout: 0, recurrentDropout: 0 },
});
const SEQ2SEQ: [string, { encoder: unknown[]; decoder: unknown[] }][] = [
  [
    "embedding + bidirectional lstm -> embedding + lstm",
    {
      encoder: [
        { call: "embedding", args: { dim: 4 } },
        { call: "bidirectional", args: { layer: cell("lstm", 3) } },
      ],
      decoder: [{ call: "embedding", args: { dim: 3 } }, cell("lstm", 6)],
    },
  ],
  [
    "embedding + gru + gru (stacked) -> embedding + gru",
    {
      encoder: [{ call: "embedding", args: { dim: 4 } }, cell("gru", 3), cell("gru", 5)],
      decoder: [{ call: "embedding", args: { dim: 3 } }, cell("gru", 5)],
    },
  ],
];

describe("ONNX export runs in onnxruntime as in TF.js (issue 13)", () => {
  for (const [name, calls, kind] of CASES)
    it(name, async () => {
      const data =
        kind === "features" ? features(true) : kind === "full" ? features(false) : tokens(kind);
      const d = await roundTrip(calls, data);
      assert.ok(d <= TOLERANCE, `largest difference ${d}`);
    });

  for (const [name, parts] of SEQ2SEQ)
    it(`seq2seq as an encoder and a decoder step: ${name}`, async () => {
      const data = tokens("post", "s");
      const { model } = buildSeq2seq(tf, parts as never, { input: 9, target: 7 });
      const t = trained(model, data, {
        kind: "tokens",
        tokens: ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"],
        level: "char",
        length: 5,
        bos: 2,
        eos: 3,
      });
      const m = inferenceModels(tf, model);
      const ids = tf.tensor2d(data.x as Int32Array, [N, T], "int32");
      const reference = [
        m.encoder.apply(ids, { training: false }),
      ].flat() as import("../../src/runtime/tfjs.js").Tensor[];
      const [encoder, decoder] = toOnnx(t, { metadata: [], producerVersion: "test" });
      exported.push(
        { name: `case${exported.length}-encoder.onnx`, bytes: encoder!.bytes },
        { name: `case${exported.length}-decoder.onnx`, bytes: decoder!.bytes },
      );
      assert.deepEqual([encoder!.file, decoder!.file], ["encoder.onnx", "decoder.onnx"]);
      const states = await (await session(encoder!.bytes)).run({ tokens: feed(data) });
      assert.equal(Object.keys(states).length, reference.length);
      reference.forEach((r, i) => {
        const d = maxDiff(states[`state_${i}`]!.data as Float32Array, r.dataSync());
        assert.ok(d <= TOLERANCE, `state ${i}: largest difference ${d}`);
      });
      // Two decoding steps from the encoder's states, feeding back the states ONNX gave.
      const step = await session(decoder!.bytes);
      let tfStates = reference;
      let onnxStates = reference.map((_, i) => states[`state_${i}`]!);
      for (const token of [2, 5]) {
        const tok = Int32Array.from({ length: N }, (_, i) => (i % 2 ? token : 4));
        const [probs, ...next] = m.step.apply([tf.tensor2d(tok, [N, 1], "int32"), ...tfStates], {
          training: false,
        }) as import("../../src/runtime/tfjs.js").Tensor[];
        const out = await step.run({
          token: new ort.Tensor("int32", tok, [N, 1]),
          ...Object.fromEntries(onnxStates.map((s, i) => [`state_${i}`, s])),
        });
        const d = maxDiff(out.probabilities!.data as Float32Array, probs!.dataSync());
        assert.ok(d <= TOLERANCE, `probabilities: largest difference ${d}`);
        next.forEach((n, i) => {
          const e = maxDiff(out[`next_state_${i}`]!.data as Float32Array, n.dataSync());
          assert.ok(e <= TOLERANCE, `next state ${i}: largest difference ${e}`);
        });
        tfStates = next;
        onnxStates = next.map((_, i) => out[`next_state_${i}`]!);
      }
      model.dispose();
    });

  it("every exported file passes ONNX's own checker (python3-onnx, full check with shape inference)", {
    skip: missingOnnxChecker() ?? false,
  }, () => {
    assert.equal(exported.length, CASES.length + 2 * SEQ2SEQ.length);
    const dir = tempDir();
    for (const f of exported) writeFileSync(join(dir, f.name), f.bytes);
    const r = checkOnnx(exported.map((f) => join(dir, f.name)));
    assert.equal(r.status, 0, r.stderr);
  });

  it("a recurrent activation ONNX's operators lack is refused with the layer's name", () => {
    const data = features(false);
    const { model } = buildModel(
      tf,
      [layer("simpleRNN", { units: 2, activation: "swish" }), layer("dense", { units: 1 })],
      { features: 3 },
    );
    const t = trained(model, data);
    model.dispose();
    assert.throws(
      () => toOnnx(t, { metadata: [], producerVersion: "test" }),
      /simpleRNN_1: ONNX's recurrent operators have no swish activation/,
    );
  });
});
