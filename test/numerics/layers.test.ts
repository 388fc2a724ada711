// The layer declarations against what TF.js builds from them: weights, parameter counts, shapes and
// names agree for every shipped layer; a new layer is one declaration (a throwaway one here, through
// the same API); seq2seq's decoding finds its layers by structure; fusion and the gradient watch
// read the declarations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LayersModel } from "../../src/runtime/tfjs.js";
import { p } from "../../src/stages/schema.js";
import { describeFusion, fuse } from "../../src/numerics/fused/fuse.js";
import { INIT, initialWeights, weightInits } from "../../src/numerics/init.js";
import {
  makeOptimizer,
  OPTIMIZER_VARIANTS,
  OPTIMIZERS,
  type OptimizerCall,
} from "../../src/numerics/optimizers.js";
import { LAYERS, type LayerCall, layer } from "../../src/numerics/layers/index.js";
import { defineLayer, describeShape, withDefaults } from "../../src/numerics/layers/layer.js";
import {
  buildModel,
  checkLayers,
  type ModelInput,
  walk,
} from "../../src/numerics/layers/sequential.js";
import { formatSummary, summarise } from "../../src/numerics/layers/summary.js";
import { buildSeq2seq, inferenceModels } from "../../src/numerics/seq2seq.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { watchedLayers } from "../../src/numerics/train.js";
import { readWeights, restoreModel, weightSpecsOf } from "../../src/numerics/weights.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";

const runtime = describeRuntime("cpu", "fused");
const tfReady = loadTf(runtime);
const TOKENS = 11;

/** Models that together hold every shipped layer, in every variant that changes its weights. */
const MODELS: Record<string, { layers: LayerCall[]; input: ModelInput }> = {
  "embedding, stacked recurrent layers, dense": {
    layers: [
      layer("embedding", { dim: 5, mask: true }),
      layer("lstm", { units: 4, returnSequences: true }),
      layer("gru", { units: 3, returnSequences: true }),
      layer("simpleRNN", { units: 2 }),
      layer("dense", { units: 3, activation: "softmax" }),
    ],
    input: { tokens: TOKENS },
  },
  "embedding with inputDim, bidirectional (concat, sum), dropout, layerNormalization": {
    layers: [
      layer("embedding", { dim: 4, inputDim: 20 }),
      layer("bidirectional", { layer: layer("gru", { units: 3, returnSequences: true }) }),
      layer("bidirectional", {
        layer: layer("lstm", { units: 2, returnSequences: true }),
        merge: "sum",
      }),
      layer("bidirectional", { layer: layer("simpleRNN", { units: 2 }), merge: "ave" }),
      layer("dropout", { rate: 0.5 }),
      layer("layerNormalization"),
      layer("dense", { units: 1, activation: "sigmoid" }),
    ],
    input: { tokens: TOKENS },
  },
  "features: masking, timeDistributed(dense)": {
    layers: [
      layer("masking", { value: -1 }),
      layer("gru", { units: 5, returnSequences: true }),
      layer("timeDistributed", { layer: layer("dense", { units: 3, activation: "relu" }) }),
      layer("layerNormalization", { epsilon: 0.01 }),
    ],
    input: { features: 6 },
  },
};

describe("every shipped layer is declared as TF.js builds it", () => {
  it("the models above hold every shipped layer", () => {
    const used = new Set(
      Object.values(MODELS).flatMap((m) =>
        m.layers.flatMap((l) => [
          l.call,
          ...(l.call === "bidirectional" || l.call === "timeDistributed"
            ? [l.args.layer.call]
            : []),
        ]),
      ),
    );
    assert.deepEqual([...used].sort(), LAYERS.all.map((l) => l.name).sort());
  });

  for (const [name, m] of Object.entries(MODELS)) {
    it(`${name}: weights, parameter counts, output shapes and names agree`, async () => {
      const tf = await tfReady;
      // buildModel checks each layer's declared weights (role, shape) against TF.js's, in order.
      const { model, init } = buildModel(tf, m.layers, m.input);
      const input = m.input.tokens
        ? { rank: 2 as const, ids: true, vocabulary: TOKENS }
        : { rank: 3 as const, ids: false, last: m.input.features! };
      const summary = summarise(walk(m.layers, input).steps);
      assert.deepEqual(
        summary.rows.map((r) => [r.name, r.params, r.output.at(-1), r.output.length]),
        model.layers.map((l) => {
          const shape = l.outputShape as (number | null)[];
          return [l.name, l.countParams(), shape.at(-1), shape.length];
        }),
      );
      assert.equal(summary.params, model.countParams());
      assert.ok(summary.complete);
      // Every weight has its rule, and the rules give the values TF.js's layers take.
      const specs = weightSpecsOf(model);
      const values = await initialWeights(weightInits(specs, init), 3);
      assert.deepEqual(
        values.map((v) => v.length),
        specs.map((s) => s.shape.reduce((a, b) => a * b, 1)),
      );
      model.dispose();
    });
  }

  it("a summary reads like Keras's: names as trained, output shapes, parameters, a total", () => {
    const layers = [
      layer("embedding", { dim: 16, mask: true }),
      layer("lstm", { units: 32 }),
      layer("dropout", { rate: 0.2 }),
      layer("dense", { units: 2, activation: "softmax" }),
    ];
    const known = summarise(walk(layers, { rank: 2, ids: true, steps: 12, vocabulary: 30 }).steps);
    assert.equal(
      formatSummary(known),
      [
        "Layer (type)                 Output shape     Params",
        "embedding_1 (embedding(16))  [batch, 12, 16]     480",
        "lstm_2 (lstm(32))            [batch, 32]       6,272",
        "dropout_3 (dropout(0.2))     [batch, 32]           0",
        "dense_4 (dense(2))           [batch, 2]           66",
        "Total: 6,818 parameters",
      ].join("\n"),
    );
    // Before the data is known: the embedding's count and the sequence length are not.
    const unknown = summarise(walk(layers, { rank: 2, ids: true }).steps);
    assert.deepEqual(unknown.rows[0], {
      name: "embedding_1",
      type: "embedding(16)",
      output: [undefined, undefined, 16],
      params: undefined,
    });
    assert.match(
      formatSummary(unknown),
      /embedding_1 \(embedding\(16\)\) {2}\[batch, time, 16\] +\?\n/,
    );
    assert.match(formatSummary(unknown), /Total: 6,338 or more parameters$/);
  });
});

/**
 * A layer that is not shipped, declared through the same API: a pointwise convolution (one kernel
 * over the features of each step). Defining it is all it takes for the model machinery to check,
 * build, initialise, summarise and train it.
 */
const pointwise = defineLayer({
  name: "pointwise",
  doc: "A 1x1 convolution: the same linear map of each step's features.",
  params: {
    filters: p.int("Output features per step.", { min: 1, max: 4096 }),
    bias: p.bool("Add a learned bias.").default(true),
  },
  tfClass: "Conv1D",
  shape: (a, input, at) => {
    if (input.rank !== 3)
      at.fail(`pointwise works on sequences, but its input is ${describeShape(input)}`);
    return { ...input, last: a.filters };
  },
  weights: (a, input) => [
    { role: "kernel", shape: [1, input.last, a.filters], init: INIT.glorotUniform },
    ...(a.bias ? [{ role: "bias", shape: [a.filters], init: INIT.ones }] : []),
  ],
  build: (tf, a, at) =>
    tf.layers.conv1d({
      filters: a.filters,
      kernelSize: 1,
      useBias: a.bias,
      kernelInitializer: "zeros",
      biasInitializer: "zeros",
      name: at.name,
      ...at.config,
    }),
  brief: (a) => `pointwise(${a.filters})`,
});

describe("a new layer is one declaration", () => {
  const registry = LAYERS.with(pointwise);
  const layers = [
    layer("embedding", { dim: 4 }),
    { call: "pointwise", args: { filters: 3, bias: true } },
    layer("gru", { units: 2 }),
    { call: "pointwise", args: { filters: 3, bias: false } },
    layer("dense", { units: 2, activation: "softmax" }),
  ];

  it("is checked: its shape rule reports misuse at its place", () => {
    assert.deepEqual(
      checkLayers(layers, { kind: "sequences", input: "tokens", target: "class" }, registry),
      [
        {
          param: "layers.3",
          message: "pointwise works on sequences, but its input is a vector [batch, 2]",
        },
      ],
    );
  });

  it("is built, initialised by its declared rules, summarised and trained", async () => {
    const tf = await tfReady;
    const fine = layers.filter((_, i) => i !== 3);
    assert.deepEqual(
      checkLayers(fine, { kind: "sequences", input: "tokens", target: "class" }, registry),
      [],
    );
    const { model, init } = buildModel(tf, fine, { tokens: TOKENS }, registry);
    const specs = weightSpecsOf(model);
    assert.deepEqual(specs.map((s) => `${s.name} ${init.get(s.name)!.name}`).slice(1, 3), [
      "pointwise_2/kernel glorot_uniform",
      "pointwise_2/bias ones",
    ]);
    const values = await initialWeights(weightInits(specs, init), 5);
    assert.deepEqual(Array.from(values[2]!), [1, 1, 1]);
    const summary = summarise(
      walk(fine, { rank: 2, ids: true, vocabulary: TOKENS }, { registry }).steps,
    );
    assert.deepEqual(summary.rows[1], {
      name: "pointwise_2",
      type: "pointwise(3)",
      output: [undefined, undefined, 3],
      params: 15,
    });
    assert.equal(summary.params, model.countParams());
    // One gradient step changes its weights.
    model.setWeights(values.map((v, i) => tf.tensor(v, specs[i]!.shape)));
    const optimizer = tf.train.sgd(0.5);
    const x = tf.tensor2d(
      [
        [1, 2, 3, 0],
        [4, 5, 0, 0],
      ],
      [2, 4],
      "int32",
    );
    const y = tf.oneHot(tf.tensor1d([0, 1], "int32"), 2);
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as never) as never);
    const after = readWeights(model);
    assert.notDeepEqual(after[1], values[1]);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe("seq2seq: built from the declarations, decoded by structure", () => {
  const cell = (units: number) => ({ units, dropout: 0, recurrentDropout: 0 });
  const cases = {
    "bidirectional lstm -> lstm": {
      encoder: [
        { call: "embedding" as const, args: { dim: 4 } },
        {
          call: "bidirectional" as const,
          args: { layer: { call: "lstm" as const, args: cell(3) } },
        },
      ],
      decoder: [
        { call: "embedding" as const, args: { dim: 5 } },
        { call: "lstm" as const, args: cell(6) },
      ],
      states: 2,
      size: 6,
    },
    "stacked gru -> gru": {
      encoder: [
        { call: "embedding" as const, args: { dim: 4 } },
        { call: "gru" as const, args: cell(3) },
        { call: "gru" as const, args: cell(5) },
      ],
      decoder: [
        { call: "embedding" as const, args: { dim: 2 } },
        { call: "gru" as const, args: cell(5) },
      ],
      states: 1,
      size: 5,
    },
  };
  for (const [name, parts] of Object.entries(cases)) {
    it(`${name}: counts, names, and the inference models of the restored model`, async () => {
      const tf = await tfReady;
      const { model, init, summary } = buildSeq2seq(tf, parts, { input: 9, target: 7 });
      assert.equal(summary.params, model.countParams());
      assert.deepEqual(
        summary.rows.map((r) => r.name).sort(),
        model.layers
          .filter((l) => l.countParams() > 0)
          .map((l) => l.name)
          .sort(),
      );
      const specs = weightSpecsOf(model);
      const restored = await restoreModel(
        tf,
        JSON.parse(JSON.stringify(model.toJSON(undefined, false))),
        specs,
        await initialWeights(weightInits(specs, init), 1),
        runtime,
      );
      const m = inferenceModels(tf, restored);
      const size = parts.size;
      assert.equal(m.cell, parts.decoder[1]!.call);
      assert.equal(m.size, size);
      const states = m.encoder.apply(tf.tensor2d([[1, 2, 3]], [1, 3], "int32")) as
        | import("../../src/runtime/tfjs.js").Tensor
        | import("../../src/runtime/tfjs.js").Tensor[];
      const list = Array.isArray(states) ? states : [states];
      assert.deepEqual(
        list.map((s) => s.shape),
        Array.from({ length: parts.states }, () => [1, size]),
      );
      tf.dispose(list);
      model.dispose();
      restored.dispose();
    });
  }
});

describe("the fuser and the gradient watch read the declarations", () => {
  const build = async (tf: TF, layers: LayerCall[]): Promise<LayersModel> =>
    buildModel(tf, layers, { tokens: TOKENS }).model;

  it("fuses the declared cells, inside the declared wrappers, and says why not where it cannot", async () => {
    const tf = await tfReady;
    const model = await build(tf, [
      layer("embedding", { dim: 4 }),
      layer("bidirectional", { layer: layer("gru", { units: 3, returnSequences: true }) }),
      layer("simpleRNN", { units: 2, returnSequences: true, activation: "relu" }),
      layer("lstm", { units: 2 }),
      layer("dense", { units: 2, activation: "softmax" }),
    ]);
    // Which build computes (native or WebAssembly) depends on the machine; the layers do not.
    const fusion = fuse(tf, model);
    assert.equal(
      describeFusion(fusion),
      `fused kernels (${fusion.kernels}): bidirectional_2 (forward), bidirectional_2 (backward), lstm_4; simpleRNN_3: TF.js's cell (activation relu)`,
    );
    model.dispose();
  });

  it("watches the recurrent layers of a model block, not an encoder-decoder's", async () => {
    const tf = await tfReady;
    const model = await build(
      tf,
      MODELS["embedding with inputDim, bidirectional (concat, sum), dropout, layerNormalization"]!
        .layers,
    );
    assert.deepEqual(
      [...watchedLayers(model)],
      ["bidirectional_2", "bidirectional_3", "bidirectional_4"],
    );
    const s2s = buildSeq2seq(tf, cases(), { input: 5, target: 5 }).model;
    assert.deepEqual([...watchedLayers(s2s)], []);
    model.dispose();
    s2s.dispose();
  });
});

describe("optimizers: one entry each, arguments typed by it", () => {
  it("each entry makes its TF.js optimizer from its arguments", async () => {
    const tf = await tfReady;
    assert.deepEqual(Object.keys(OPTIMIZER_VARIANTS), Object.keys(OPTIMIZERS));
    const made = (o: OptimizerCall) => {
      const optimizer = makeOptimizer(tf, o);
      const name = optimizer.getClassName();
      optimizer.dispose();
      return name;
    };
    const defaults = Object.entries(OPTIMIZERS).map(([call, e]) =>
      made({ call, args: withDefaults(e.params, {}) } as OptimizerCall),
    );
    assert.deepEqual(defaults, ["SGD", "Adam", "RMSProp", "Adagrad"]);
    assert.equal(
      made({ call: "sgd", args: { lr: 0.1, momentum: 0.9, nesterov: true } }),
      "Momentum",
    );
    // Arguments are checked against the entry's parameters by the compiler.
    // @ts-expect-error: adam has no momentum
    const wrong: OptimizerCall = { call: "adam", args: { lr: 0.1, momentum: 0.9 } };
    // @ts-expect-error: rmsprop needs rho, momentum and epsilon
    const partial: OptimizerCall = { call: "rmsprop", args: { lr: 0.1 } };
    assert.ok(wrong && partial);
  });
});

function cases() {
  const cell = { units: 2, dropout: 0, recurrentDropout: 0 };
  return {
    encoder: [
      { call: "embedding" as const, args: { dim: 2 } },
      { call: "lstm" as const, args: cell },
    ],
    decoder: [
      { call: "embedding" as const, args: { dim: 2 } },
      { call: "lstm" as const, args: cell },
    ],
  };
}
